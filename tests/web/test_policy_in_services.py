"""Who may do what is decided by the services, not the routers: the same rules hold for
any caller that goes through them (the API, the CLI, a batch), shown here without HTTP.

- R-CERT-5: a municipality issues no smartphone certificate (J-LIS issues those to the
  applicant);
- a municipality's token acts in its own name: another municipality code stated in a
  request or event is refused, an omitted one is its own; an operator reporting an event
  must name the municipality;
- R-RA-2: what a municipality reads and changes is confined to its own residents
  (``scope_of``).
"""

from __future__ import annotations

import datetime as dt

import pytest
from myna_testing import DEFAULT_MUNICIPALITY, DEFAULT_RESIDENT, issue_request, register_resident, table_counts

from myna.access.roles import Principal, Role
from myna.authority.records import scope_of
from myna.errors import Forbidden, InvalidInput
from myna.residents.events import ChangeEvent, EventType
from myna.wiring import build

CHIYODA, SHINJUKU = DEFAULT_MUNICIPALITY, "131041"


def _who(role: Role, municipality_code: str | None = None) -> Principal:
    return Principal(token_id=1, role=role, label="clerk", municipality_code=municipality_code)


CLERK = _who(Role.MUNICIPALITY, CHIYODA)
OPERATOR = _who(Role.OPERATOR)


@pytest.fixture
def services(platform):
    register_resident(platform)  # DEFAULT_RESIDENT, in Chiyoda
    return build(platform)


@pytest.mark.parametrize("kind", ["mobile-sign", "mobile-auth"])
def test_r_cert_5_a_municipality_issues_no_mobile_certificate_and_nothing_is_written(services, kind):
    before = table_counts(services.platform)
    with pytest.raises(Forbidden, match="R-CERT-5"):
        services.issuance.issue_as(CLERK, issue_request(kind, municipality_code=None))
    assert table_counts(services.platform) == before


def test_r_cert_5_is_told_before_the_request_is_checked(services):
    """A municipality asking for what it may never have learns that first, not that its key is bad."""
    with pytest.raises(Forbidden, match="R-CERT-5"):
        services.issuance.issue_as(CLERK, issue_request("mobile-auth", public_key=b"not a key"))


def test_a_municipality_may_not_issue_in_another_municipalitys_name(services):
    before = table_counts(services.platform)
    with pytest.raises(Forbidden, match=f"acts for municipality {CHIYODA}, not {SHINJUKU}"):
        services.issuance.issue_as(CLERK, issue_request("card-auth", basic4=None, municipality_code=SHINJUKU))
    assert table_counts(services.platform) == before


def test_a_municipality_issues_in_its_own_name_when_it_names_none(services):
    issued = services.issuance.issue_as(CLERK, issue_request("card-auth", basic4=None, municipality_code=None))
    record = services.records.get(issued.serial)
    assert record.municipality_code == CHIYODA
    assert services.records.get(issued.serial, municipality_code=scope_of(CLERK)).serial == issued.serial


def test_jlis_operators_issue_mobile_certificates_and_others_may_not_issue(services):
    issued = services.issuance.issue_as(OPERATOR, issue_request("mobile-auth", basic4=None))
    assert services.records.get(issued.serial).kind == "mobile-auth"
    for role in (Role.AUDITOR, Role.CENTRE, Role.CALL_CENTRE):
        with pytest.raises(Forbidden, match=f"role {role.value} may not do this"):
            services.issuance.issue_as(_who(role), issue_request("card-auth", basic4=None))


def test_scope_of_confines_a_municipality_and_no_jlis_role():
    assert scope_of(CLERK) == CHIYODA
    for role in (Role.OPERATOR, Role.AUDITOR, Role.CALL_CENTRE, Role.CENTRE):
        assert scope_of(_who(role)) is None


def _event(municipality_code: str | None, event_id: str = "policy-1") -> ChangeEvent:
    return ChangeEvent(
        event_id=event_id,
        type=EventType.ADDRESS_CHANGE,
        resident_code=DEFAULT_RESIDENT,
        municipality_code=municipality_code,
        effective_date=dt.date(2026, 1, 10),
        address="東京都千代田区丸の内1-1",
    )


def test_a_municipality_reports_events_for_itself_only(services):
    before = table_counts(services.platform)
    with pytest.raises(Forbidden, match=f"acts for municipality {CHIYODA}, not {SHINJUKU}"):
        services.registry.submit_as(CLERK, _event(SHINJUKU))
    assert table_counts(services.platform) == before
    result = services.registry.submit_as(CLERK, _event(None))
    assert result.applied
    assert services.registry.get(DEFAULT_RESIDENT, CHIYODA)["address"] == "東京都千代田区丸の内1-1"


def test_an_operator_reporting_an_event_names_the_municipality(services):
    with pytest.raises(InvalidInput, match="municipality_code is required for an operator"):
        services.registry.submit_as(OPERATOR, _event(None))
    assert services.registry.submit_as(OPERATOR, _event(CHIYODA, "policy-2")).applied


# -- operations: the rules of the figures, for the API, the console and the centres alike ----


def test_a_traffic_minute_in_the_future_is_refused_by_the_service(platform):
    ops = build(platform).operations
    now = platform.clock.now()
    ops.report_traffic("tokyo", now + dt.timedelta(minutes=2), 1, 0, 0)  # a fast clock, within the slack
    with pytest.raises(InvalidInput, match="in the future"):
        ops.report_traffic("tokyo", now + dt.timedelta(minutes=3), 1, 0, 0)
    assert ops.traffic_by_hour(now - dt.timedelta(hours=1))["tokyo"]  # the first one was counted


def test_the_availability_window_defaults_to_the_fiscal_year_and_stops_at_now(platform):
    from myna.operations.service import fiscal_year_start

    ops = build(platform).operations
    now = platform.clock.now()
    assert ops.window() == (fiscal_year_start(now), now)
    assert ops.window(now - dt.timedelta(days=1), now + dt.timedelta(days=1)) == (now - dt.timedelta(days=1), now)
    with pytest.raises(InvalidInput, match="end must be after start"):
        ops.window(now, now - dt.timedelta(seconds=1))
    with pytest.raises(InvalidInput, match="start must be in the past"):
        ops.window(now + dt.timedelta(days=1), now + dt.timedelta(days=2))


def _application(code: str, b4):
    from myna.cards.applications import ApplicationIn

    return ApplicationIn(code, b4.name, b4.date_of_birth, b4.sex.value, b4.address, None)


def test_r_ra_2_a_municipality_applies_for_its_own_residents_only(services):
    """A card application (online or at the counter) from a municipality for another
    municipality's resident gets, word for word, the answer for a resident nobody has, and
    nothing is recorded; J-LIS's staff apply for anyone."""
    from myna.errors import NotFound

    elsewhere = register_resident(services.platform, "50000000028", SHINJUKU)
    before = table_counts(services.platform)
    with pytest.raises(NotFound) as other:
        services.applications.submit_as(CLERK, _application("50000000028", elsewhere), "online")
    with pytest.raises(NotFound) as unknown:
        services.applications.submit_as(CLERK, _application("50000000036", elsewhere), "online")
    assert str(other.value) == str(unknown.value).replace("50000000036", "50000000028")
    assert table_counts(services.platform) == before
    receipt = services.applications.submit_as(OPERATOR, _application("50000000028", elsewhere), "online")
    assert receipt.created
