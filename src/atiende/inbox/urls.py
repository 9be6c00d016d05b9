from django.urls import path

from atiende.inbox import views

app_name = "inbox"

# The inbox page itself is the site's root, ``web:home`` (see atiende.web.urls).
urlpatterns = [
    path("row/<int:conversation_id>/", views.inbox_row, name="row"),
    path("bulk/", views.bulk_action, name="bulk"),
    path("views/", views.save_current_view, name="save_view"),
    path("views/<int:saved_view_id>/delete/", views.delete_saved_view, name="delete_view"),
]
