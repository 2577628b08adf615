/* The home page: live countdowns from the server's answers, a passive
 * notification poll, and an upload declared as work. The server decides;
 * this only shows what it said. */
(function () {
  "use strict";
  var doc = document;
  var idleguard = window.idleguard;
  var POLL_EVERY = 30000;

  function byId(id) { return doc.getElementById(id); }

  // -- the countdowns -------------------------------------------------------
  var clocks = { idle: byId("idle-left"), absolute: byId("absolute-left") };
  var deadlines = { idle: deadline(clocks.idle), absolute: deadline(clocks.absolute) };
  // The limits this page was rendered with; an answer with others means they changed.
  var limits = { idle: seconds(byId("idle-limit")), absolute: seconds(byId("absolute-limit")) };

  function seconds(element) {
    var value = parseFloat(element.getAttribute("data-seconds"));
    return isNaN(value) ? null : value;
  }

  function deadline(element) {
    var remaining = parseFloat(element.getAttribute("data-remaining"));
    return isNaN(remaining) ? null : Date.now() + remaining * 1000;
  }

  function countdown(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var secs = ("0" + (total % 60)).slice(-2);
    if (hours) return hours + ":" + ("0" + minutes).slice(-2) + ":" + secs;
    return minutes + ":" + secs;
  }

  function show() {
    Object.keys(clocks).forEach(function (name) {
      var deadline = deadlines[name];
      var text = deadline === null ? "—" : countdown((deadline - Date.now()) / 1000);
      if (clocks[name].textContent !== text) clocks[name].textContent = text;
    });
  }
  setInterval(show, 1000);

  function text(id, value) { byId(id).textContent = value; }

  function describeLimits() {
    // Passive: asking what applies must not count as the user being here.
    return idleguard.fetch("/api/session", { passive: true }).then(function (response) {
      if (!response.ok) return;
      return response.json().then(function (limits) {
        text("idle-limit", limits.idle_limit);
        text("idle-rule", limits.idle_rule);
        text("idle-rule-code", limits.idle_rule_code);
        text("absolute-limit", limits.absolute_limit);
        text("absolute-rule", limits.absolute_rule);
        text("absolute-rule-code", limits.absolute_rule_code);
        var notes = byId("notes");
        notes.replaceChildren.apply(notes, limits.notes.map(function (note) {
          var item = doc.createElement("li");
          item.textContent = note;
          return item;
        }));
      });
    });
  }

  doc.addEventListener("idleguard:status", function (event) {
    var status = event.detail;
    var now = Date.now();
    deadlines.idle = status.idle_remaining == null ? null : now + status.idle_remaining * 1000;
    deadlines.absolute = status.absolute_remaining == null ? null : now + status.absolute_remaining * 1000;
    var changed = limits.idle !== status.idle_timeout || limits.absolute !== status.absolute_timeout;
    limits.idle = status.idle_timeout;
    limits.absolute = status.absolute_timeout;
    show();
    if (changed) describeLimits();
  });

  // -- the notification poll --------------------------------------------------
  var list = byId("notifications");
  var latest = list.getAttribute("data-latest") || "";
  function poll() {
    idleguard.fetch("/api/notifications", { passive: true }).then(function (response) {
      if (!response.ok) return;
      return response.json().then(function (body) {
        var items = body.notifications.map(function (notification) {
          var item = doc.createElement("li");
          item.textContent = notification.text;
          return item;
        });
        if (!items.length) {
          items = [doc.createElement("li")];
          items[0].className = "muted";
          items[0].textContent = "Nothing new.";
        }
        list.replaceChildren.apply(list, items);
        text("notifications-checked", new Date().toLocaleTimeString());
        var newest = body.notifications.length ? body.notifications[0].at : "";
        if (newest !== latest) {
          // The organisation's timeout changed: ask the server what applies now.
          latest = newest;
          idleguard.refresh();
        }
      });
    }).catch(function () { /* offline: the next poll tries again */ });
  }
  if (idleguard) setInterval(poll, POLL_EVERY);

  // -- the upload -------------------------------------------------------------
  var form = byId("upload-form");
  var input = byId("upload-file");
  var progress = byId("upload-progress");
  var result = byId("upload-result");

  function size(bytes) {
    if (bytes < 1024) return bytes + " bytes";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  function send(file) {
    return new Promise(function (resolve) {
      var request = new XMLHttpRequest();
      request.open("POST", "/api/upload");
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
      });
      request.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(request.responseText); } catch (error) { /* not JSON */ }
        if (request.status === 200) {
          result.textContent = "Uploaded " + body.name + " (" + size(body.bytes) + ").";
        } else if (request.status === 401) {
          result.textContent = "Your session has ended.";
          idleguard.refresh();
        } else if (request.status === 413) {
          result.textContent = "That file is too large for the demo.";
        } else {
          result.textContent = "The upload failed (" + request.status + ").";
        }
        resolve();
      });
      request.addEventListener("error", function () {
        result.textContent = "The upload failed: the server could not be reached.";
        resolve();
      });
      request.send(file);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = input.files[0];
    if (!file) return;
    progress.hidden = false;
    progress.value = 0;
    result.textContent = "Uploading " + file.name + "…";
    var upload = send(file).then(function () { progress.hidden = true; });
    // No warning while it runs, and the session is kept alive until it is done.
    if (idleguard) idleguard.work(upload);
  });
})();
