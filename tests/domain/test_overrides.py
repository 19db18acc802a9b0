"""Configuration steers the mapping: pipeline id or name, field codes, the brigade source.

A configured value the portal does not have is a `BitrixMappingError` whose ``admin_hint`` says
what is wrong and which setting to fix — never a silent guess.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bitrix.client import BitrixClient
from bitrix.company import MappingOptions
from bitrix.demo import DemoLayout, build_demo
from bitrix.demo.builder import DemoCompany
from bitrix.errors import BitrixMappingError
from bitrix.portal import EmulatedPortal, PortalOptions, PortalStore

from .conftest import LOAD_DAY, load, make_client
from .raw import RawPortal


@pytest.fixture(scope="module")
def alternative() -> DemoCompany:
    return build_demo(LOAD_DAY, layout=DemoLayout.alternative())


@pytest.fixture(scope="module")
def enum_brigade() -> DemoCompany:
    return build_demo(LOAD_DAY, layout=DemoLayout.enum_brigade())


class Served:
    """A portal with its client and raw answers."""

    def __init__(self, portal: EmulatedPortal, client: BitrixClient, rest: RawPortal) -> None:
        self.portal, self.client, self.rest = portal, client, rest


async def _serve(store: PortalStore, layout: DemoLayout) -> AsyncIterator[Served]:
    async with (
        EmulatedPortal(store, PortalOptions()) as portal,
        make_client(portal.webhook_url) as client,
    ):
        yield Served(portal, client, await RawPortal.fetch(portal.webhook_url, layout))


@pytest.fixture
async def default_portal(default_demo: DemoCompany) -> AsyncIterator[Served]:
    async for served in _serve(default_demo.store, default_demo.truth.layout):
        yield served


@pytest.fixture
async def alternative_portal(alternative: DemoCompany) -> AsyncIterator[Served]:
    async for served in _serve(alternative.store, alternative.truth.layout):
        yield served


@pytest.fixture
async def enum_portal(enum_brigade: DemoCompany) -> AsyncIterator[Served]:
    async for served in _serve(enum_brigade.store, enum_brigade.truth.layout):
        yield served


# ------------------------------------------------------------------------ pipeline
async def test_configured_category_id(default_portal: Served) -> None:
    loaded = await load(default_portal.client, MappingOptions(category_id=34))
    pipeline = loaded.snapshot.mapping.pipeline
    assert (pipeline.id, pipeline.origin) == (34, "configured id")
    assert {h.id for h in loaded.snapshot.houses} == {
        d["ID"] for d in default_portal.rest.houses()
    }


async def test_pipeline_found_by_name_without_configuration(alternative_portal: Served) -> None:
    loaded = await load(alternative_portal.client, MappingOptions(pipeline_name=None))
    pipeline = loaded.snapshot.mapping.pipeline
    assert (pipeline.id, pipeline.name, pipeline.origin) == (
        12,
        "Обслуживание домов",
        "found by name",
    )
    assert pipeline.lost_stages == {"C12:LOSE", "C12:APOLOGY"}
    assert len(loaded.snapshot.houses) == 490


async def test_configured_pipeline_name(default_portal: Served) -> None:
    loaded = await load(default_portal.client, MappingOptions(pipeline_name="уборка ПОДЪЕЗДОВ"))
    assert loaded.snapshot.mapping.pipeline.origin == "configured name"
    assert loaded.snapshot.mapping.pipeline.id == 34


async def test_unknown_category_id_is_a_mapping_error(default_portal: Served) -> None:
    with pytest.raises(BitrixMappingError) as caught:
        await load(default_portal.client, MappingOptions(category_id=99))
    hint = caught.value.admin_hint
    assert "Воронки с id 99 нет на портале" in hint
    assert "34 «Уборка подъездов»" in hint
    assert "BITRIX_HOUSES_CATEGORY_ID" in hint


async def test_no_pipeline_named_like_houses_is_a_mapping_error(
    default_demo: DemoCompany,
) -> None:
    store = default_demo.store.clone()
    for category in store.categories:
        if category["id"] == 34:
            category["name"] = "Договоры"
    async for served in _serve(store, default_demo.truth.layout):
        with pytest.raises(BitrixMappingError) as caught:
            await load(served.client, MappingOptions(pipeline_name=None))
    assert "houses pipeline not found" in str(caught.value)
    assert "34 «Договоры»" in caught.value.admin_hint
    assert "BITRIX_HOUSES_CATEGORY_ID" in caught.value.admin_hint


# ------------------------------------------------------------------------ fields
async def test_field_override_is_used(default_portal: Served, default_demo: DemoCompany) -> None:
    rest = default_portal.rest
    elevators = rest.code("Количество лифтов")
    options = MappingOptions(overrides={"floors": elevators})
    snapshot = (await load(default_portal.client, options)).snapshot
    ref = snapshot.mapping.roles["floors"]
    assert (ref.code, ref.origin, ref.label) == (elevators, "configured", "Количество лифтов")
    for deal in rest.houses():
        value = deal.get(elevators)
        expected = None if value in (None, "") else int(value)
        assert snapshot.houses_by_id[deal["ID"]].floors == expected
    # The other roles are still discovered by label.
    assert (
        snapshot.mapping.roles["apartments"].code == default_demo.truth.field_codes["apartments"]
    )


async def test_unknown_field_override_is_a_mapping_error(default_portal: Served) -> None:
    options = MappingOptions(overrides={"apartments": "UF_CRM_NO_SUCH"})
    with pytest.raises(BitrixMappingError) as caught:
        await load(default_portal.client, options)
    assert "UF_CRM_NO_SUCH" in caught.value.admin_hint
    assert "BITRIX_FIELD_APARTMENTS" in caught.value.admin_hint


# ------------------------------------------------------------------------ brigades
async def test_alternative_brigades_by_department(alternative_portal: Served) -> None:
    rest = alternative_portal.rest
    expected = {d["ID"]: rest.brigade(d) for d in rest.houses()}
    for source in ("auto", "responsible_department"):
        options = MappingOptions(brigade_source=source)
        snapshot = (await load(alternative_portal.client, options)).snapshot
        assert {h.id: h.brigade for h in snapshot.houses} == expected, source
    # Named service users are not how this portal records brigades: none are found.
    options = MappingOptions(brigade_source="responsible_name")
    snapshot = (await load(alternative_portal.client, options)).snapshot
    assert all(h.brigade is None for h in snapshot.houses)
    assert snapshot.statistics().houses_without_brigade == 490


async def test_enum_brigades_by_field(enum_portal: Served, enum_brigade: DemoCompany) -> None:
    rest = enum_portal.rest
    code = enum_brigade.truth.field_codes["brigade"]
    expected = {d["ID"]: rest.brigade(d) for d in rest.houses()}
    for options in (
        MappingOptions(brigade_source="field"),
        MappingOptions(brigade_source="field", overrides={"brigade": code}),
    ):
        snapshot = (await load(enum_portal.client, options)).snapshot
        assert snapshot.mapping.roles["brigade"].code == code
        assert {h.id: h.brigade for h in snapshot.houses} == expected
    by_name = await load(enum_portal.client, MappingOptions(brigade_source="responsible_name"))
    assert all(h.brigade is None for h in by_name.snapshot.houses)


async def test_field_source_without_a_brigade_field_is_a_mapping_error(
    default_portal: Served,
) -> None:
    with pytest.raises(BitrixMappingError) as caught:
        await load(default_portal.client, MappingOptions(brigade_source="field"))
    assert "BITRIX_FIELD_BRIGADE" in caught.value.admin_hint
