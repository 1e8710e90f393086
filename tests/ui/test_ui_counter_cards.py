"""Counter terminal, the card page (R-CARD-6, R-CARD-7, R-CARD-8): the handover form's
field errors and the domain's refusals, the card's later procedures (loss, return,
abolition, renewal, reissue) with their effect on the certificates, the batch of pickup
notices, and the Japanese page's times (JST) and messages."""

import datetime as dt
import json
import re

from sqlalchemy import select
from test_ui_counter import CODE, HANDOVER, as_clerk, hand_over, hidden, produced_card, scoped_state, take_application
from ui_support import pdf_text, photo

from myna.chip.client import JpkiClient
from myna.chip.pins import PinRef
from myna.clock import JST
from myna.pki import serials
from myna.store import models as m
from myna.store.models_card_management import CardApplication, CardFee, CardStatusChange, CertificateRenewal, ManagedCard
from myna.store.models_cards import ChipRecord
from myna.wiring import build

ADULT = "40000000014"


def field_errors(html: str) -> set[str]:
    return set(re.findall(r'id="([a-z_]+)-error"', html)) - {"form"}


def card_row(platform, card_id) -> ChipRecord:
    with platform.db.session() as s:
        row = s.get(ChipRecord, card_id)
        s.expunge(row)
        return row


def is_revoked(platform, serial: str | None) -> bool:
    with platform.db.session() as s:
        return s.scalar(select(m.Revocation.serial).where(m.Revocation.serial == serial)) is not None


def adult_card(platform, client, code=ADULT) -> str:
    """An adult who moved in from abroad, with an application taken and the card (both
    certificates) produced and shipped to the municipality."""
    as_clerk(client)
    form = client.get("/ui/counter/events/new").text
    data = {
        "event_id": hidden(form, "event_id"),
        "type": "move-in",
        "resident_code": code,
        "effective_date": "2026-03-20",
        "name": "高橋 健",
        "date_of_birth": "1980-05-05",
        "sex": "1",
        "address": "東京都千代田区丸の内1-1",
    }
    assert client.post("/ui/counter/events", data=data, follow_redirects=False).status_code == 303
    r = take_application(
        client, code, name="高橋 健", date_of_birth="1980-05-05", sex="1", address="東京都千代田区丸の内1-1", express="abroad"
    )
    assert 'data-status="accepted"' in r.text, r.text
    build(platform).production.produce("jlis", size=10)
    build(platform).production.ship("jlis")
    (card,) = build(platform).chips.list(resident_code=code)
    return card.card_id


def test_handover_form_errors_sit_next_to_their_fields_and_change_nothing(platform, counter):
    """R-CARD-6 at the form: each bad field gets its own message next to it, in Japanese,
    with aria-invalid/aria-describedby; nothing is handed over and no PIN is set."""
    card_id = produced_card(platform, counter)
    before = scoped_state(platform)
    cases = {
        "identity_document": ({"identity_document": ""}, "入力してください。"),
        "pins_entered_by": ({"pins_entered_by": ""}, "入力してください。"),
        "auth_pin": ({"auth_pin": "12a4", "auth_pin_again": "12a4"}, "数字4桁で入力してください。"),
        "sign_pin": ({"sign_pin": "abc123", "sign_pin_again": "abc123"}, "英大文字と数字 6〜16 文字で入力してください。"),
        "sign_pin_again": ({"sign_pin": "ABC123", "sign_pin_again": "ABC124"}, "一致しません。"),
        "face_matches_photo": ({"face_matches_photo": ""}, "本人の顔と写真の一致を確認してください。"),
    }
    for name, (over, text) in cases.items():
        data = {k: v for k, v in {**HANDOVER, **over}.items() if v != "" or k != "face_matches_photo"}
        r = counter.post(f"/ui/counter/cards/{card_id}/handover", data=data, headers={"accept-language": "ja"})
        assert r.status_code == 422, name
        assert field_errors(r.text) == {name}, (name, field_errors(r.text))
        assert re.search(rf'id="{name}"[^>]*aria-invalid="true" aria-describedby="{name}-error"', r.text), name
        assert f'<p id="{name}-error" class="error" role="alert">{text}' in r.text, name
        assert 'id="form-error"' not in r.text and 'data-status="shipped"' in r.text
    # Full-width digits are not the 4 ASCII digits the card takes.
    r = hand_over(counter, card_id, auth_pin="１２３４", auth_pin_again="１２３４")
    assert r.status_code == 422 and field_errors(r.text) == {"auth_pin"}
    assert scoped_state(platform) == before
    assert card_row(platform, card_id).status == "shipped"


def test_a_card_with_a_signature_certificate_needs_the_signature_pin_too(platform, counter):
    """R-CARD-6: an adult's card carries a signature certificate; the holder sets its PIN
    at the handover (the field says so before the domain would)."""
    card_id = adult_card(platform, counter)
    r = hand_over(counter, card_id)
    assert r.status_code == 422 and field_errors(r.text) == {"sign_pin"} and "署名用暗証番号も本人が設定します" in r.text
    assert card_row(platform, card_id).status == "shipped"
    r = hand_over(counter, card_id, sign_pin="HANDOVER7", sign_pin_again="HANDOVER7")
    assert r.status_code == 303
    assert card_row(platform, card_id).status == "active"
    client = JpkiClient(build(platform).chips.open_card(card_id).transmit)
    client.verify(PinRef.SIGN, "HANDOVER7")


def test_chip_data_differing_from_the_printed_card_is_refused_above_the_form(platform, counter):
    """R-CARD-6: the chip's card-face data is read at the handover; when it differs from
    what is printed on the card, the domain refuses, the page says why (with a Japanese
    lead-in) above the form, and the card stays as it was."""
    card_id = produced_card(platform, counter)
    with platform.db.session() as s:
        managed = s.get(ManagedCard, card_id)
        face = json.loads(managed.printed_face)
        managed.printed_face = json.dumps({**face, "name": "佐藤 みく"}, ensure_ascii=False)  # a misprinted card
    before = scoped_state(platform)
    r = hand_over(counter, card_id)
    assert r.status_code == 422 and 'data-status="shipped"' in r.text
    refusal = r.text.split('id="form-error">', 1)[1].split("</p>", 1)[0]
    assert "受け付けられませんでした" in refusal and "differs from the printed card (name)" in refusal
    assert field_errors(r.text) == set()
    assert scoped_state(platform) == before


def test_find_form_puts_its_error_next_to_the_code(platform, counter):
    as_clerk(counter)
    for code, text in (
        ("12345", "住民票コードは11桁の数字、カード番号は16文字"),
        ("", "入力してください。"),
        ("１２３４５６７８９０１", "住民票コードは11桁の数字"),
    ):
        r = counter.get("/ui/counter/find", params={"code": code}, headers={"accept-language": "ja"})
        assert r.status_code == 422, code
        assert re.search(r'id="code"[^>]*aria-invalid="true" aria-describedby="code-error"', r.text)
        assert f'<p id="code-error" class="error" role="alert">{text}' in r.text
        assert 'id="error"' not in r.text
    r = counter.get("/ui/counter/find", params={"code": "12345"}, headers={"accept-language": "en"})
    assert "Enter an 11-digit resident code or a 16-character card id" in r.text and 'value="12345"' in r.text
    assert (
        counter.get("/ui/counter/find", params={"code": CODE}, follow_redirects=False).headers["location"]
        == f"/ui/counter/residents/{CODE}"
    )
    r = counter.get("/ui/counter/find", params={"code": "0123456789abcdef"}, follow_redirects=False)
    assert r.headers["location"] == "/ui/counter/cards/0123456789ABCDEF"


def test_the_japanese_card_page_speaks_japanese_and_shows_jst(platform, counter, clock):
    """Times in the card's history are Japan time (a handover at 16:30 UTC is the next day
    in Japan); notes the platform writes are translated; messages are Japanese."""
    card_id = produced_card(platform, counter)
    clock.set(dt.datetime(2026, 4, 1, 16, 30, tzinfo=dt.timezone.utc))  # 2026-04-02 01:30 JST
    assert hand_over(counter, card_id).status_code == 303
    ja = {"accept-language": "ja"}
    page = counter.get(f"/ui/counter/cards/{card_id}", headers=ja).text
    history = page.split('id="card-history">', 1)[1].split("</ol>", 1)[0]
    assert "2026-04-02 01:30</time> 日本時間: 発送済 → 利用中 (交付)" in history
    assert "UTC" not in page and "handed over" not in page and "2026-04-01 16:30" not in page
    assert "交付しました。カードは利用中です。" in counter.get(f"/ui/counter/cards/{card_id}?done=handed%20over", headers=ja).text
    with platform.db.session() as s:
        expires = s.get(ManagedCard, card_id).card_expires_at.astimezone(JST).date().isoformat()
    assert f'id="card-expires">{expires}<' in page
    # A refusal by the domain keeps its (English) reason but is introduced in Japanese.
    r = counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "lift"}, headers=ja)
    assert "受け付けられませんでした" in r.text.split('id="error">', 1)[1].split("</p>", 1)[0]
    r = counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "explode"}, headers=ja)
    assert 'id="error">この手続はありません。</p>' in r.text and "unknown action" not in r.text
    r = counter.get("/ui/counter/residents/49999999999", headers=ja)
    assert r.status_code == 404 and "この市区町村にこの住民票コードの住民はいません。" in r.text
    r = counter.get("/ui/counter/cards/XYZ", headers=ja)  # malformed: the screen's error page, not the API's JSON
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html") and "カード番号が正しくありません。" in r.text
    # A change report's confirmation.
    form = counter.get("/ui/counter/events/new").text
    data = {
        "event_id": hidden(form, "event_id"),
        "type": "address-change",
        "resident_code": CODE,
        "effective_date": "2026-04-01",
        "address": "東京都千代田区千代田2-2",
    }
    r = counter.post("/ui/counter/events", data=data, headers=ja)
    assert 'data-event="address-change">届出を記録しました：転居</p>' in r.text and "recorded" not in r.text


def test_loss_return_and_abolition_from_the_card_page(platform, counter):
    """R-CARD-7: loss revokes the certificates at once; return and abolition are recorded
    (nothing left to revoke); each page offers only what the status allows."""
    card_id = produced_card(platform, counter)
    assert hand_over(counter, card_id).status_code == 303
    auth = card_row(platform, card_id).auth_serial
    assert not is_revoked(platform, auth)
    page = counter.get(f"/ui/counter/cards/{card_id}").text
    assert 'id="action-loss"' in page and 'id="action-lift"' not in page
    r = counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "loss", "note": "落とした"})
    assert 'data-status="lost"' in r.text and "紛失を記録しました。" in r.text
    assert is_revoked(platform, auth)
    with platform.db.session() as s:
        assert s.scalar(select(m.Revocation.reason).where(m.Revocation.serial == auth)) == "request"
        revocations = s.query(m.Revocation).count()
    r = counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "return"})
    assert 'data-status="returned"' in r.text and 'id="action-loss"' not in r.text and 'id="action-abolish"' in r.text
    r = counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "abolish"})
    assert 'data-status="abolished"' in r.text and 'id="action-abolish"' not in r.text
    with platform.db.session() as s:
        assert s.query(m.Revocation).count() == revocations  # already revoked: recorded once
        steps = [
            (c.from_status, c.to_status)
            for c in s.scalars(select(CardStatusChange).where(CardStatusChange.card_id == card_id).order_by(CardStatusChange.id))
        ]
    assert steps[-3:] == [("active", "lost"), ("lost", "returned"), ("returned", "abolished")]
    # Nothing is done to an abolished card.
    r = counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "loss"}, follow_redirects=False)
    assert "error=" in r.headers["location"] and card_row(platform, card_id).status == "abolished"


def test_renewal_from_the_card_page_gives_new_certificates(platform, counter):
    """R-CARD-8: after a suspension is lifted the card's certificates stay revoked; the
    counter renews them: new serials on the card, the old-to-new link, the fee."""
    card_id = produced_card(platform, counter)
    assert hand_over(counter, card_id).status_code == 303
    old = card_row(platform, card_id).auth_serial
    counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "suspend"})
    counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "lift"})
    assert is_revoked(platform, old)
    r = counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "renew"})
    assert "電子証明書を更新しました。" in r.text and 'data-status="active"' in r.text
    new = card_row(platform, card_id).auth_serial
    assert new != old and not is_revoked(platform, new)
    assert serials.to_display(int(new, 16)) in r.text.split('id="card-certs">', 1)[1].split("</dd>", 1)[0]
    with platform.db.session() as s:
        link = s.get(CertificateRenewal, old)
        assert link is not None and link.new_serial == new
        items = [f.item for f in s.scalars(select(CardFee).where(CardFee.card_id == card_id))]
        assert items.count("certificates-reissue") == 1 and "certificates-renewal" not in items


def test_reissue_from_the_card_page_replaces_the_lost_card(platform, counter):
    """R-CARD-7: a lost card is reissued only through a new application (the link on its
    page); the old card is abolished when the new one is handed over."""
    card_id = produced_card(platform, counter)
    assert hand_over(counter, card_id).status_code == 303
    page = counter.post(f"/ui/counter/cards/{card_id}/action", data={"action": "loss"}).text
    link = re.search(r'id="reissue" href="([^"]+)"|href="([^"]+)" id="reissue"', page)
    url = (link.group(1) or link.group(2)).replace("&amp;", "&")
    form = counter.get(url).text
    assert hidden(form, "replaces") == card_id and hidden(form, "reason") == "reissue"
    data = {
        "resident_code": CODE,
        "name": "佐藤 みらい",
        "date_of_birth": "2026-03-30",
        "sex": "2",
        "address": "東京都千代田区千代田1-1",
        "express": "loss",
        "reason": "reissue",
        "replaces": card_id,
        "source_ref": hidden(form, "source_ref"),
    }
    r = counter.post("/ui/counter/applications", data=data, files={"photo": ("me.png", photo(), "image/png")})
    assert r.status_code == 200 and 'data-status="accepted"' in r.text
    with platform.db.session() as s:
        app = s.scalar(select(CardApplication).where(CardApplication.replaces_card_id == card_id))
        assert app.reason == "reissue" and app.express == "loss"
    assert card_row(platform, card_id).status == "lost"  # until the new card is handed over
    build(platform).production.produce("jlis", size=10)
    build(platform).production.ship("jlis")
    (new,) = [c.card_id for c in build(platform).chips.list(resident_code=CODE) if c.card_id != card_id]
    assert hand_over(counter, new).status_code == 303
    assert card_row(platform, new).status == "active" and card_row(platform, card_id).status == "abolished"
    old_page = counter.get(f"/ui/counter/cards/{card_id}", headers={"accept-language": "ja"}).text
    assert f"再交付により廃止、新しいカード {new}" in old_page and "replaced by" not in old_page


def test_pickup_notices_of_all_arrived_cards_print_in_one_pdf(platform, counter, tmp_path):
    """R-CARD-6: the counter prints the pickup notice of every card in its arrived list at
    once; each page names the holder, the municipality and the card; none of another
    municipality's cards is in it."""
    first = produced_card(platform, counter)
    second = adult_card(platform, counter)
    r = counter.get("/ui/counter")
    assert 'id="pickup-notices"' in r.text
    pdf = counter.get("/ui/counter/pickup-notices.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content, tmp_path)
    pages = text.split("\f")
    assert len([p for p in pages if p.strip()]) == 2
    for card_id, name in ((first, "佐藤 みらい"), (second, "高橋 健")):
        (page,) = [p for p in pages if card_id in p]
        assert f"{name} 様" in page and "千代田区" in page and "交付通知書" in page
    # Handed over: no longer in the list or the batch.
    assert hand_over(counter, first).status_code == 303
    text = pdf_text(counter.get("/ui/counter/pickup-notices.pdf").content, tmp_path)
    assert first not in text and second in text
    # Another municipality prints nothing of ours.
    as_clerk(counter, "shinjuku")
    r = counter.get("/ui/counter/pickup-notices.pdf", follow_redirects=False)
    assert r.status_code == 303 and not r.content.startswith(b"%PDF")
    assert "交付を待つカードはありません。" in counter.get(r.headers["location"]).text


def test_every_counter_message_key_is_in_the_catalogue():
    """The keys the counter screen sends to its pages are translated (a missing one would
    show as the key itself)."""
    from pathlib import Path

    from myna.web.ui import i18n

    source = (Path(__file__).resolve().parents[2] / "src" / "myna" / "web" / "ui" / "counter.py").read_text()
    keys = set(re.findall(r'"((?:counter|form)\.(?:error|note)\.[a-z_]+)"', source))
    assert len(keys) > 10 and keys <= set(i18n.TEXT), keys - set(i18n.TEXT)
