"""Printed matter (R-CARD-1, R-CARD-6, R-CARD-8): number notices with their application
forms, pickup notices and expiry notices, as PDF letters in Japanese.

Rendered with reportlab and the IPAex fonts of the Debian packages
fonts-ipaexfont-gothic / -mincho (embedded, so any reader shows the text, and
pdftotext extracts it). The QR code (segno) on the application form carries only the
form's id and a random token, never personal data: the platform fills the application
in from the notice it points to. Pure: data in, bytes out.

Two kinds of form carry a QR code: the number notice's (form id ``N…``, R-CARD-1) and the
renewal application form below an expiry notice that asks for a new card (form id
``R…``, R-CARD-8); both decode to ``MYNA-APPLY/1/<form id>/<token>``.
"""

from __future__ import annotations

import datetime as dt
import glob
import io
import re
from dataclasses import dataclass

from myna.clock import JST
from myna.errors import InvalidInput, NotInitialised

QR_PREFIX = "MYNA-APPLY/1/"
_QR = re.compile(r"^MYNA-APPLY/1/([NR][0-9A-F]{16})/([0-9a-f]{32})$")  # N: number notice's form, R: renewal form
_FONT_GLOBS = {
    "IPAexGothic": [
        "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
        "/usr/share/fonts/*/ipaexfont*/ipaexg.ttf",
        "/usr/share/fonts/**/ipaexg.ttf",
    ],
    "IPAexMincho": [
        "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf",
        "/usr/share/fonts/*/ipaexfont*/ipaexm.ttf",
        "/usr/share/fonts/**/ipaexm.ttf",
    ],
}
_registered: set[str] = set()


def qr_payload(notice_id: str, token: str) -> str:
    return f"{QR_PREFIX}{notice_id}/{token}"


def parse_qr(text: str) -> tuple[str, str]:
    """(notice id, form token) from the text the QR code decodes to."""
    found = _QR.match((text or "").strip())
    if not found:
        raise InvalidInput(f"not an application-form QR code: expected {QR_PREFIX}<form id>/<token>")
    return found.group(1), found.group(2)


def _font(name: str) -> str:
    if name in _registered:
        return name
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for pattern in _FONT_GLOBS[name]:
        hits = sorted(glob.glob(pattern, recursive=True))
        if hits:
            pdfmetrics.registerFont(TTFont(name, hits[0]))
            _registered.add(name)
            return name
    raise NotInitialised(f"font {name} not found: install the Debian package fonts-ipaexfont")


def _wareki(day: dt.date) -> str:
    """A date as printed on Japanese forms: the era year (令和, 平成, 昭和...) and the Gregorian one."""
    for start, era in (
        (dt.date(2019, 5, 1), "令和"),
        (dt.date(1989, 1, 8), "平成"),
        (dt.date(1926, 12, 25), "昭和"),
        (dt.date(1912, 7, 30), "大正"),
        (dt.date(1868, 1, 25), "明治"),
    ):
        if day >= start:
            y = day.year - start.year + 1
            return f"{era}{'元' if y == 1 else y}年{day.month}月{day.day}日 ({day.isoformat()})"
    return day.isoformat()


SEX = {"1": "男", "2": "女", "3": "不明"}


@dataclass(frozen=True)
class NumberLetter:
    notice_id: str
    token: str
    number: str
    name: str
    date_of_birth: dt.date
    sex: str
    address: str
    municipality: str
    issued_on: dt.date


@dataclass(frozen=True)
class PickupLetter:
    card_id: str
    application_id: str
    name: str
    address: str
    municipality: str
    pickup_by: dt.date
    sign_certificate: bool


@dataclass(frozen=True)
class ExpiryLetter:
    card_id: str
    name: str
    address: str
    renew: str  # card, certificates, both
    card_expires: dt.date
    certificates_expire: dt.date | None
    # The renewal application form (card or both): its id and token for the QR code.
    form_id: str | None = None
    token: str | None = None
    date_of_birth: dt.date | None = None


class _Pages:
    """A4 letters: a heading, labelled lines, paragraphs, and the QR code."""

    def __init__(self, title: str):
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas

        self.buf = io.BytesIO()
        self.width, self.height = A4
        self.c = canvas.Canvas(self.buf, pagesize=A4, invariant=1)  # invariant: same input, same bytes
        self.c.setTitle(title)
        self.gothic, self.mincho = _font("IPAexGothic"), _font("IPAexMincho")
        self.y = 0.0

    def start(self, heading: str, to_name: str, to_address: str) -> None:
        self.y = self.height - 60
        self.c.setFont(self.mincho, 10)
        self.c.drawString(60, self.y, f"〒 {to_address}")
        self.c.setFont(self.mincho, 12)
        self.c.drawString(60, self.y - 16, f"{to_name} 様")
        self.y -= 70
        self.c.setFont(self.gothic, 18)
        self.c.drawCentredString(self.width / 2, self.y, heading)
        self.y -= 36

    def line(self, label: str, value: str, size: int = 11) -> None:
        self.c.setFont(self.gothic, size)
        self.c.drawString(70, self.y, label)
        self.c.setFont(self.mincho, size)
        self.c.drawString(190, self.y, value)
        self.y -= size + 9

    def text(self, value: str, size: int = 10) -> None:
        self.c.setFont(self.mincho, size)
        # Japanese wraps anywhere; about 44 full-width characters fit the text width.
        for i in range(0, len(value), 44):
            self.c.drawString(60, self.y, value[i : i + 44])
            self.y -= size + 6
        self.y -= 4

    def rule(self, label: str) -> None:
        self.y -= 6
        self.c.setDash(4, 3)
        self.c.line(40, self.y, self.width - 40, self.y)
        self.c.setDash()
        self.c.setFont(self.gothic, 8)
        self.c.drawString(42, self.y + 3, label)
        self.y -= 24

    def qr(self, payload: str, size: float = 120) -> None:
        import segno
        from reportlab.lib.utils import ImageReader

        png = io.BytesIO()
        segno.make(payload, error="m", micro=False).save(png, kind="png", scale=8, border=4)
        png.seek(0)
        self.c.drawImage(ImageReader(png), self.width - 60 - size, self.y - size + 20, size, size)

    def end_page(self) -> None:
        self.c.showPage()

    def pdf(self) -> bytes:
        self.c.save()
        return self.buf.getvalue()


def number_notices_pdf(letters: list[NumberLetter]) -> bytes:
    """個人番号通知書 with the 個人番号カード交付申請書 below the tear line, one page each."""
    if not letters:
        raise InvalidInput("no letters to print")
    p = _Pages("個人番号通知書")
    for n in letters:
        p.start("個人番号通知書", n.name, n.address)
        p.line("個人番号", f"{n.number[:4]} {n.number[4:8]} {n.number[8:]}", 14)
        p.line("氏名", n.name)
        p.line("生年月日", _wareki(n.date_of_birth))
        p.line("性別", SEX.get(n.sex, n.sex))
        p.line("住所", n.address)
        p.line("通知日", _wareki(n.issued_on))
        p.line("住所地市町村", n.municipality)
        p.text(
            "この通知書は個人番号を証明する書類としては使えません。マイナンバーカードの交付を希望される方は、下の交付申請書で申請してください。"
        )
        _application_form(p, "個人番号カード交付申請書", n.notice_id, n.token, n.name, n.date_of_birth, n.address)
        p.end_page()
    return p.pdf()


def _application_form(
    p: _Pages, heading: str, form_id: str, token: str, name: str, date_of_birth: dt.date, address: str, note: str | None = None
) -> None:
    """Below the tear line: the application form with its id, what it is filled in
    with, and the QR code (form id and token only) that opens it pre-filled."""
    p.rule("きりとり線")
    p.c.setFont(p.gothic, 14)
    p.c.drawString(60, p.y, heading)
    p.y -= 26
    top = p.y
    p.line("申請書ID", form_id)
    p.line("氏名", name)
    p.line("生年月日", date_of_birth.isoformat())
    p.line("住所", address)
    if note:
        p.line("申請の種類", note)
    p.y = top
    p.qr(qr_payload(form_id, token))
    p.y -= 110
    p.text(
        "スマートフォンでQRコードを読み取ると、氏名・住所等が入力済みの申請画面が開きます。顔写真(縦45mm×横35mm)を添えて申請してください。"
    )


def pickup_notice_pdf(letter: PickupLetter) -> bytes:
    """交付通知書 (R-CARD-6): the card is ready at the municipality; come once, bring ID."""
    p = _Pages("交付通知書")
    p.start("個人番号カード交付通知書", letter.name, letter.address)
    p.line("受付番号", letter.application_id)
    p.line("カード番号", letter.card_id)
    p.line("交付場所", letter.municipality)
    p.line("交付期限", _wareki(letter.pickup_by))
    p.text(
        "本人確認書類と、この通知書をお持ちのうえ、ご本人が窓口にお越しください。窓口で顔写真と券面・ICチップの記載事項を確認し、暗証番号をご本人に設定していただきます。"
    )
    pins = "利用者証明用電子証明書(数字4桁)、券面事項入力補助用(数字4桁)"
    if letter.sign_certificate:
        pins += "、署名用電子証明書(英数字6~16文字)"
    p.text(f"設定する暗証番号: {pins}")
    p.end_page()
    return p.pdf()


def expiry_notices_pdf(letters: list[ExpiryLetter]) -> bytes:
    """有効期限通知書 (R-CARD-8): what expires when, and what to renew; one page each."""
    if not letters:
        raise InvalidInput("no letters to print")
    p = _Pages("有効期限通知書")
    for letter in letters:
        _expiry_page(p, letter)
    return p.pdf()


def _expiry_page(p: _Pages, letter: ExpiryLetter) -> None:
    p.start("有効期限通知書", letter.name, letter.address)
    p.line("カード番号", letter.card_id)
    p.line("カードの有効期限", _wareki(letter.card_expires))
    if letter.certificates_expire:
        p.line("電子証明書の有効期限", _wareki(letter.certificates_expire))
    what = {"card": "マイナンバーカード", "certificates": "電子証明書", "both": "マイナンバーカードと電子証明書"}[letter.renew]
    p.line("更新が必要なもの", what)
    if letter.renew == "certificates":
        p.text("電子証明書の更新は、住所地の市町村窓口で手続きができます(手数料無料)。カードをお持ちください。")
    elif letter.form_id and letter.token and letter.date_of_birth:
        p.text("カードの更新には新しいカードの交付申請が必要です(手数料無料)。下の交付申請書(更新)で申請してください。")
        _application_form(
            p,
            "個人番号カード交付申請書(更新)",
            letter.form_id,
            letter.token,
            letter.name,
            letter.date_of_birth,
            letter.address,
            "有効期限による更新(新しいカードの交付)",
        )
    else:
        p.text("カードの更新には新しいカードの交付申請が必要です(手数料無料)。住所地の市町村窓口またはオンラインで申請してください。")
    p.end_page()


def today_jst(now: dt.datetime) -> dt.date:
    return now.astimezone(JST).date()
