"""The demo's views: sign-in form, protected page, ``/api/me``, a passive poll, sign-out."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

import idleguard
from examples.session_end import describe_end
from idleguard import SessionInfo


def sign_in(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        reason = request.GET.get("reason")
        policy = idleguard.policies(request).default.policy
        notice = describe_end(reason, policy) if reason else None
        return render(request, "demo/login.html", {"notice": notice})
    username = request.POST.get("username", "").strip()
    user = authenticate(request, username=username, password=request.POST.get("password", ""))
    if user is None:
        context = {"error": "Wrong user or password.", "username": username}
        return render(request, "demo/login.html", context, status=401)
    # idleguard's app begins its session on Django's user_logged_in signal.
    login(request, user)
    return HttpResponseRedirect("/", status=303)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/home.html", {"user": request.user})


def signed_in_session(request: HttpRequest) -> SessionInfo | None:
    """The session of a signed-in user, or ``None``: the view answers ``401``.

    Django's login is the sign-in (the middleware serves it only with its own live idleguard
    session); an idleguard session the browser still holds after Django's login ended is not.
    """
    if not request.user.is_authenticated:
        return None
    return idleguard.current(request)


def not_signed_in() -> JsonResponse:
    return JsonResponse({"error": "not_signed_in"}, status=401)


def me(request: HttpRequest) -> JsonResponse:
    session = signed_in_session(request)
    if session is None:
        return not_signed_in()
    return JsonResponse(
        {
            "user": request.user.get_username(),
            "idle_remaining": session.idle_remaining,
            "absolute_remaining": session.absolute_remaining,
        }
    )


def notifications(request: HttpRequest) -> JsonResponse:
    # A background poll: configured passive, so it never keeps a session alive.
    if signed_in_session(request) is None:
        return not_signed_in()
    return JsonResponse({"notifications": []})


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    # idleguard's app ends its session on Django's user_logged_out signal.
    logout(request)
    return HttpResponseRedirect("/login", status=303)
