import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from atiende.brands import actions
from atiende.brands.models import BrandEvent


def test_every_brand_action_writes_exactly_one_event(system, brand_admin, brand):
    before = BrandEvent.objects.count()
    created = actions.create_brand(slug="nueva", name="Nueva", number_prefix="nue", actor=system)
    assert created.number_prefix == "NUE"
    assert BrandEvent.objects.count() == before + 1
    actions.update_brand(brand=brand, actor=brand_admin, name="Tienda Sol España")
    assert BrandEvent.objects.count() == before + 2
    assert BrandEvent.objects.latest("id").payload == {
        "changes": {"name": ["Tienda Sol", "Tienda Sol España"]}
    }


def test_only_installation_administrators_create_brands(brand_admin, superuser):
    with pytest.raises(PermissionDenied):
        actions.create_brand(slug="x", name="X", number_prefix="XX", actor=brand_admin)
    assert actions.create_brand(slug="x", name="X", number_prefix="XX", actor=superuser).pk


def test_brand_admin_configures_only_their_brand(other_brand, brand_admin):
    with pytest.raises(PermissionDenied):
        actions.update_brand(brand=other_brand, actor=brand_admin, name="Mía")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"number_prefix": "1AB"}, "capital letters"),
        ({"time_zone": "Europe/Atlantis"}, "not a time zone"),
        ({"slug": "tienda"}, "already exists"),
    ],
)
def test_invalid_brand_settings_are_clear_errors(brand, system, fields, message):
    values = {"slug": "otra", "name": "Otra", "number_prefix": "OTR", **fields}
    with translation.override("en"), pytest.raises(ValidationError, match=message):
        actions.create_brand(actor=system, **values)
