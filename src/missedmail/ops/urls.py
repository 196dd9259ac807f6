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
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern, path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from missedmail.ops import actions, dashboard, lookups, probes
from missedmail.ops.dependencies import OpsDependencies
from missedmail.ops.security import PAGE_POLICY, with_policy

app_name = "ops"

View = Callable[..., HttpResponseBase]
# A view of this package: the request, then the dependencies, then the URL's arguments.
OpsView = Callable[Concatenate[HttpRequest, OpsDependencies, ...], HttpResponseBase]


def bind(view: OpsView, deps: OpsDependencies) -> View:
    @wraps(view)
    def bound(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        return view(request, deps, *args, **kwargs)

    return bound


def build_urlpatterns(deps: OpsDependencies) -> list[URLPattern]:
    def probe(view: OpsView) -> View:
        return never_cache(require_safe(bind(view, deps)))

    def page(view: OpsView) -> View:
        return with_policy(PAGE_POLICY)(never_cache(login_required(require_safe(bind(view, deps)))))

    def action(view: OpsView) -> View:
        # The view allows GET (the confirmation) and POST (the change); CSRF is checked by
        # the middleware for every POST.
        return with_policy(PAGE_POLICY)(never_cache(login_required(bind(view, deps))))

    login = auth_views.LoginView.as_view(
        template_name="ops/login.html", redirect_authenticated_user=True
    )
    return [
        path("healthz", probe(probes.healthz), name="healthz"),
        path("readyz", probe(probes.readyz), name="readyz"),
        path("metrics", probe(probes.metrics), name="metrics"),
        path("ops/", page(dashboard.dashboard), name="dashboard"),
        path("ops/live.json", page(dashboard.live), name="live"),
        path("ops/users/", page(lookups.users), name="users"),
        path("ops/users/<int:user_id>/", page(lookups.user), name="user"),
        path("ops/users/<int:user_id>/cancel/", action(actions.cancel_pending), name="cancel"),
        path("ops/emails/", page(lookups.emails), name="emails"),
        path("ops/emails/<int:email_id>/", page(lookups.email), name="email"),
        path(
            "ops/emails/<int:email_id>/preview/",
            page(lookups.email_preview),
            name="email-preview",
        ),
        path("ops/emails/<int:email_id>/requeue/", action(actions.requeue), name="requeue"),
        path("ops/rejected/", page(lookups.rejected_events), name="rejected-events"),
        path(
            "ops/rejected/<int:event_id>/",
            page(lookups.rejected_event),
            name="rejected-event",
        ),
        path("ops/test-email/", action(actions.test_email), name="test-email"),
        path("ops/login/", with_policy(PAGE_POLICY)(login), name="login"),
        path("ops/logout/", auth_views.LogoutView.as_view(next_page="ops:login"), name="logout"),
    ]


urlpatterns = build_urlpatterns(OpsDependencies.from_django_settings())
