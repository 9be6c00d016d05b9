from django.urls import path

from atiende.channels.email import views

app_name = "email_channel"

urlpatterns = [path("inbound/<str:address>/", views.inbound_mime, name="inbound")]
