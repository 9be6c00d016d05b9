from django.contrib.auth import views as auth_views
from django.urls import path

from atiende.web import views
from atiende.web.forms import EmailLoginForm

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
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
    path(
        "conversations/recent.csv",
        views.recent_conversations_csv,
        name="recent_conversations_csv",
    ),
    path("c/<slug:brand_slug>/<int:number>/", views.conversation_detail, name="conversation"),
    path("reports/sla/", views.sla_report, name="sla_report"),
    path("attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
]
