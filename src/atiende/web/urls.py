from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from atiende.inbox import views as inbox_views
from atiende.web import conversation_views, views
from atiende.web.forms import EmailLoginForm

app_name = "web"

urlpatterns = [
    # The first screen is the inbox (atiende.inbox); "web:home" keeps naming it.
    path("", inbox_views.inbox, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html",
            authentication_form=EmailLoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("preferences/", views.preferences, name="preferences"),
    # The old home table's download: now the inbox's CSV of every visible conversation.
    path(
        "conversations/recent.csv",
        RedirectView.as_view(url="/?view=all&status=any&sort=updated&format=csv"),
        name="recent_conversations_csv",
    ),
    path(
        "c/<slug:brand_slug>/<int:number>/",
        conversation_views.conversation_detail,
        name="conversation",
    ),
    path(
        "c/<slug:brand_slug>/<int:number>/timeline/",
        conversation_views.conversation_timeline,
        name="conversation_timeline",
    ),
    path(
        "c/<slug:brand_slug>/<int:number>/reply/",
        conversation_views.conversation_reply,
        name="conversation_reply",
    ),
    path(
        "c/<slug:brand_slug>/<int:number>/properties/",
        conversation_views.conversation_properties,
        name="conversation_properties",
    ),
    path(
        "c/<slug:brand_slug>/<int:number>/colleagues/",
        conversation_views.conversation_colleagues,
        name="conversation_colleagues",
    ),
    path(
        "c/<slug:brand_slug>/<int:number>/merge/",
        conversation_views.conversation_merge,
        name="conversation_merge",
    ),
    path(
        "c/<slug:brand_slug>/<int:number>/undo-merge/",
        conversation_views.conversation_undo_merge,
        name="conversation_undo_merge",
    ),
    path(
        "c/<slug:brand_slug>/<int:number>/split/",
        conversation_views.conversation_split,
        name="conversation_split",
    ),
    path("reports/sla/", views.sla_report, name="sla_report"),
    path("attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
    path(
        "attachments/<int:attachment_id>/preview/",
        conversation_views.attachment_preview,
        name="attachment_preview",
    ),
]
