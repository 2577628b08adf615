"""The demo's routes."""

from __future__ import annotations

from django.urls import path

from .demo import views

urlpatterns = [
    path("login", views.sign_in, name="login"),
    path("", views.home, name="home"),
    path("api/me", views.me),
    path("api/notifications", views.notifications),
    path("logout", views.sign_out, name="logout"),
]
