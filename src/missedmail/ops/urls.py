"""Routes of the operations side: probes at the root, the operator UI under /ops/.

The views take their dependencies as an argument; `build_urlpatterns` binds them, so the
running service uses the system clock and tests bind a `ManualClock` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Concatenate

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from missedmail.ops import dashboard, probes
from missedmail.ops.dependencies import OpsDependencies

app_name = "ops"

View = Callable[..., HttpResponse]
# A view of this package: the request, then the dependencies, then the URL's arguments.
OpsView = Callable[Concatenate[HttpRequest, OpsDependencies, ...], HttpResponse]


def bind(view: OpsView, deps: OpsDependencies) -> View:
    @wraps(view)
    def bound(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        return view(request, deps, *args, **kwargs)

    return bound


def build_urlpatterns(deps: OpsDependencies) -> list[URLPattern]:
    def probe(view: OpsView) -> View:
        return never_cache(require_safe(bind(view, deps)))

    def page(view: OpsView) -> View:
        return never_cache(login_required(require_safe(bind(view, deps))))

    return [
        path("healthz", probe(probes.healthz), name="healthz"),
        path("readyz", probe(probes.readyz), name="readyz"),
        path("metrics", probe(probes.metrics), name="metrics"),
        path("ops/", page(dashboard.dashboard), name="dashboard"),
        path(
            "ops/rejected/<int:event_id>/",
            page(dashboard.rejected_event),
            name="rejected-event",
        ),
        path(
            "ops/login/",
            auth_views.LoginView.as_view(
                template_name="ops/login.html", redirect_authenticated_user=True
            ),
            name="login",
        ),
        path("ops/logout/", auth_views.LogoutView.as_view(next_page="ops:login"), name="logout"),
    ]


urlpatterns = build_urlpatterns(OpsDependencies.from_django_settings())
