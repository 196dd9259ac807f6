from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("missedmail.api.urls")),
    path("", include("missedmail.api.public_urls")),
    path("", include("missedmail.ops.urls")),
    path("ops/admin/", admin.site.urls),
]
