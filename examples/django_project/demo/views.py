"""The demo's views: sign-in form, protected page, ``/api/me``, a passive poll, sign-out."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

import idleguard


def sign_in(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "demo/login.html", {"reason": request.GET.get("reason")})
    username = request.POST.get("username", "").strip()
    user = authenticate(request, username=username, password=request.POST.get("password", ""))
    if user is None:
        return render(request, "demo/login.html", {"error": True}, status=401)
    # idleguard's app begins its session on Django's user_logged_in signal.
    login(request, user)
    return HttpResponseRedirect("/", status=303)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/home.html", {"user": request.user})


def me(request: HttpRequest) -> JsonResponse:
    session = idleguard.current(request)
    if session is None:
        return JsonResponse({"error": "not_signed_in"}, status=401)
    return JsonResponse(
        {
            "user": request.user.get_username(),
            "idle_remaining": session.idle_remaining,
            "absolute_remaining": session.absolute_remaining,
        }
    )


def notifications(request: HttpRequest) -> JsonResponse:
    # A background poll: configured passive, so it never keeps a session alive.
    if idleguard.current(request) is None:
        return JsonResponse({"error": "not_signed_in"}, status=401)
    return JsonResponse({"notifications": []})


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    # idleguard's app ends its session on Django's user_logged_out signal.
    logout(request)
    return HttpResponseRedirect("/login", status=303)
