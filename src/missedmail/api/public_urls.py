"""Pages outside /api/v1/ that email recipients reach: the one-click unsubscribe link."""

urlpatterns: list[object] = []
