from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("channels/", include("atiende.channels.urls")),
    path("api/", include("atiende.api.urls")),
    path("search/", include("atiende.search.urls")),
    path("inbox/", include("atiende.inbox.urls")),
    path("", include("atiende.web.urls")),
]
