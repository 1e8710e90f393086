"""Interface text in Japanese and English.

A dict catalogue rather than gettext: the screens have a few hundred short strings, both
languages are kept side by side where reviewers can see that each key has both, and a
missing translation fails the test that walks the catalogue instead of showing a msgid.
"""

from __future__ import annotations

LANGS = ("ja", "en")
DEFAULT = "ja"

TEXT: dict[str, tuple[str, str]] = {
    # frame
    "app.title": ("マイナンバーカード基盤 myna", "myna: Individual Number Card platform"),
    "nav.console": ("運用コンソール", "Operations console"),
    "nav.login": ("ログイン", "Sign in"),
    "nav.logout": ("ログアウト", "Sign out"),
    "nav.home": ("トップ", "Home"),
    "nav.api": ("API 仕様", "API reference"),
    "lang.switch": ("English", "日本語"),
    "skip": ("本文へ移動", "Skip to content"),
    "signed_in_as": ("ログイン中", "Signed in as"),
    # login
    "login.title": ("ログイン", "Sign in"),
    "login.token": ("アクセストークン", "Access token"),
    "login.token.help": (
        "運用者・市区町村・監査のトークン（myna token create で発行）を入力してください。",
        "Paste an operator, municipality or auditor token (made with `myna token create`).",
    ),
    "login.submit": ("ログイン", "Sign in"),
    "login.error.empty": ("トークンを入力してください。", "Enter a token."),
    "login.error.invalid": ("このトークンは無効です。", "This token is not valid."),
    "login.error.role": ("このトークンの役割ではこの画面を使えません。", "This token's role cannot use this screen."),
    # errors
    "error.title": ("エラー", "Error"),
    "error.forbidden": ("この画面を使う権限がありません。", "You are not allowed to use this screen."),
    "error.notfound": ("ページが見つかりません。", "Page not found."),
    # console
    "console.title": ("運用コンソール", "Operations console"),
    "console.certs": ("電子証明書の状態", "Certificates by status"),
    "console.issued": ("日別発行件数（直近30日、日本時間）", "Issued per day (last 30 days, JST)"),
    "console.revoked": ("失効理由別件数", "Revocations by reason"),
    "console.traffic": ("検証センター別トラフィック（直近24時間、1時間ごと）", "Traffic per validity centre (last 24 h, hourly)"),
    "console.traffic.none": ("検証センターからの報告はまだありません。", "No validity centre has reported traffic yet."),
    "console.availability": ("システム稼働率（今年度、計画停止を除く）", "Availability this fiscal year (planned outages excluded)"),
    "console.availability.formula": (
        "稼働率 ＝（サービス提供時間 − サービス停止時間）÷ サービス提供時間。いずれも計画停止時間を除く。目標 99.9％以上。",
        "Availability = (service time − outage time) ÷ service time, both without planned outages. Target ≥ 99.9 %.",
    ),
    "console.outages": ("停止記録", "Outage log"),
    "console.outages.none": ("停止記録はありません。", "No outages recorded."),
    "console.record_outage": ("停止を記録", "Record an outage"),
    "console.data_table": ("数値で見る", "Show the figures"),
    "col.kind": ("種別", "Kind"),
    "col.valid": ("有効", "Valid"),
    "col.revoked": ("失効", "Revoked"),
    "col.expired": ("期限切れ", "Expired"),
    "col.total": ("合計", "Total"),
    "col.reason": ("理由", "Reason"),
    "col.count": ("件数", "Count"),
    "col.day": ("日付", "Day"),
    "col.service": ("システム", "Service"),
    "col.availability": ("稼働率", "Availability"),
    "col.service_time": ("提供時間", "Service time"),
    "col.outage_time": ("停止時間", "Outage time"),
    "col.planned_time": ("計画停止", "Planned"),
    "col.target": ("目標達成", "Target met"),
    "col.start": ("開始", "Start"),
    "col.end": ("終了", "End"),
    "col.planned": ("計画停止", "Planned"),
    "col.cause": ("原因", "Cause"),
    "col.centre": ("センター", "Centre"),
    "col.hour": ("時刻", "Hour"),
    "col.ocsp": ("OCSP", "OCSP"),
    "col.crl": ("CRL", "CRL"),
    "col.errors": ("エラー", "Errors"),
    "yes": ("はい", "yes"),
    "no": ("いいえ", "no"),
    "ongoing": ("継続中", "ongoing"),
    "none": ("—", "—"),
    "form.service": ("システム", "Service"),
    "form.started_at": ("開始日時（日本時間）", "Start (JST)"),
    "form.ended_at": ("終了日時（日本時間、継続中なら空欄）", "End (JST; empty while ongoing)"),
    "form.planned": ("計画停止（保守作業など）", "Planned (maintenance etc.)"),
    "form.cause": ("原因", "Cause"),
    "form.submit": ("記録する", "Record"),
    "form.saved": ("記録しました。", "Recorded."),
    "form.error.required": ("入力してください。", "Required."),
    "form.error.datetime": ("日時は 2026-04-01T09:00 の形で入力してください。", "Enter a date and time like 2026-04-01T09:00."),
    # kinds and reasons
    "kind.card-sign": ("カード署名用", "Card signature"),
    "kind.card-auth": ("カード利用者証明用", "Card user-auth"),
    "kind.mobile-sign": ("スマホ署名用", "Mobile signature"),
    "kind.mobile-auth": ("スマホ利用者証明用", "Mobile user-auth"),
    "kind.ca": ("認証局", "CA"),
    "reason.request": ("失効申請・届出", "Revocation request"),
    "reason.resident-change": ("住民票の異動", "Resident record change"),
    "reason.record-error": ("記録誤り", "Record error"),
    "reason.key-compromise": ("鍵の漏洩等", "Key compromise"),
    "reason.linked-card-revoked": ("カード証明書の失効に連動", "Linked card certificate revoked"),
}


def text(key: str, lang: str) -> str:
    pair = TEXT.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "ja" else pair[1]


def pick(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language asked for by ``?lang=``, then the cookie, then the browser's first choice."""
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("ja"):
            return "ja"
        if tag.startswith("en"):
            return "en"
    return DEFAULT

TEXT.update(
    {
        "nav.portal": ("住民ポータル", "Resident portal"),
        "portal.title": ("住民ポータル", "Resident portal"),
        "portal.intro": (
            "マイナンバーカードの利用者証明用電子証明書でログインし、ご自身の情報を確認できます。",
            "Sign in with your card's user-authentication certificate to see what the platform holds about you.",
        ),
        "portal.login": ("カードでログイン", "Sign in with your card"),
        "portal.login.steps": (
            "カードをリーダーに置き、次のコマンドで下のチャレンジに署名してください（利用者証明用パスワード 4 桁が必要です）。表示された certificate_serial と signature を入力します。",
            "Put your card on the reader and sign the challenge below with this command (you need the 4-digit user-authentication PIN). Enter the certificate_serial and signature it prints.",
        ),
        "portal.challenge": ("チャレンジ", "Challenge"),
        "portal.serial": ("証明書のシリアル番号", "Certificate serial number"),
        "portal.signature": ("署名（Base64）", "Signature (Base64)"),
        "portal.submit": ("ログイン", "Sign in"),
        "portal.me": ("わたしの情報", "My information"),
        "portal.identity": ("住民票の情報", "Resident record"),
        "portal.identity.none": ("住民票の情報はこの基盤にありません。", "This platform holds no resident record for you."),
        "portal.certificates": ("電子証明書", "Certificates"),
        "portal.cards": ("カード", "Cards"),
        "portal.cards.none": ("カードの記録はありません。", "No card on record."),
        "portal.this_session": ("このログインに使用", "used for this sign-in"),
        "portal.signed_in": ("ログインしています。", "You are signed in."),
        "field.name": ("氏名", "Name"),
        "field.date_of_birth": ("生年月日", "Date of birth"),
        "field.sex": ("性別", "Sex"),
        "field.address": ("住所", "Address"),
        "field.number": ("個人番号", "Individual Number"),
        "field.status": ("状態", "Status"),
        "field.serial": ("シリアル番号", "Serial number"),
        "field.not_after": ("有効期限", "Valid until"),
        "field.card_id": ("カード", "Card"),
        "field.issued": ("作成日", "Made on"),
        "sex.1": ("男", "male"),
        "sex.2": ("女", "female"),
        "sex.3": ("不明", "not known"),
        "status.valid": ("有効", "valid"),
        "status.revoked": ("失効", "revoked"),
        "status.expired": ("期限切れ", "expired"),
    }
)

TEXT.update(
    {
        "nav.staff_login": ("職員ログイン", "Staff sign-in"),
        "resident.active": ("住民登録あり", "on the register"),
        "resident.moving-out": ("転出予定", "moving out"),
        "resident.moved-out": ("転出", "moved out"),
        "resident.deleted": ("消除", "deleted"),
        "card.manufacturing": ("製造中", "being made"),
        "card.produced": ("製造済", "produced"),
        "card.shipped": ("発送済", "shipped"),
        "card.received": ("市区町村受領", "at the municipality"),
        "card.active": ("利用中", "in use"),
        "card.suspended": ("一時停止中", "suspended"),
        "card.lost": ("紛失", "lost"),
        "card.returned": ("返納", "returned"),
        "card.abolished": ("廃止", "abolished"),
    }
)


def text_or(key: str, lang: str, fallback: str) -> str:
    """The translation of ``key`` if the catalogue has one, else ``fallback`` (a raw value
    from the store that has no translation yet is shown as it is, not as a key)."""
    return text(key, lang) if key in TEXT else fallback

TEXT.update(
    {
        "portal.consents": ("検証者への同意", "Consent to verifiers"),
        "portal.consents.help": (
            "同意した検証者だけが、あなたの最新の基本4情報（氏名・生年月日・性別・住所）を受け取れます。撤回はすぐに効力を持ちます。",
            "Only verifiers you consent to receive your latest basic 4 information (name, date of birth, sex, address). A withdrawal takes effect at once.",
        ),
        "portal.consents.none": ("同意の対象になる検証者はまだ登録されていません。", "No verifier that could receive this is registered yet."),
        "portal.verifier": ("検証者", "Verifier"),
        "portal.consented_since": ("同意済み：", "Consented since"),
        "portal.not_consented": ("同意していません", "No consent"),
        "portal.grant": ("同意する", "Consent"),
        "portal.withdraw": ("同意を撤回する", "Withdraw consent"),
        "portal.consent.grant": ("同意しました。", "Consent given."),
        "portal.consent.withdraw": ("同意を撤回しました。", "Consent withdrawn."),
        "portal.disclosures": ("あなたの情報の提供記録", "Who received what about you"),
        "portal.disclosures.help": (
            "あなたの電子証明書について検証者に提供した情報と、断った問い合わせの記録です（新しい順）。",
            "What verifiers were given about your certificates, and the requests that were refused (newest first).",
        ),
        "portal.disclosures.none": ("提供の記録はありません。", "Nothing has been provided about you."),
        "portal.when": ("日時", "When"),
        "portal.what": ("提供した情報", "What"),
        "portal.outcome": ("結果", "Outcome"),
        "portal.outcome.provided": ("提供", "provided"),
        "portal.outcome.refused": ("拒否", "refused"),
        "portal.on_behalf_of": ("委託元", "for"),
    }
)

TEXT.update(
    {
        "nav.counter": ("窓口端末", "Counter terminal"),
        "counter.new_event": ("異動の届出", "Report a change"),
        "counter.new_application": ("カードの申請", "Card application"),
        "counter.find": ("住民票コード（11桁）またはカード番号（16文字）", "Resident code (11 digits) or card id (16 characters)"),
        "counter.find.submit": ("検索", "Find"),
        "counter.arrived": ("交付を待つカード（市区町村に到着済）", "Cards awaiting handover (arrived at the municipality)"),
        "counter.arrived.none": ("交付を待つカードはありません。", "No card is waiting for handover."),
        "counter.arrived_at": ("到着日", "Arrived"),
        "counter.recent": ("最近の申請", "Recent applications"),
        "counter.recent.none": ("申請はまだありません。", "No application yet."),
        "counter.receipt": ("受付番号", "Receipt number"),
        "counter.resident_code": ("住民票コード", "Resident code"),
        "counter.reason": ("申請理由", "Reason"),
        "counter.reason.new": ("新規", "new"),
        "counter.reason.reissue": ("再交付", "reissue"),
        "counter.reason.renewal": ("更新", "renewal"),
        "counter.due_on": ("発送期限", "Ship by"),
        "counter.received_on": ("受付日", "Received"),
        "counter.express": ("特急", "express"),
        "counter.applications": ("申請", "Applications"),
        "counter.applications.none": ("申請はありません。", "No application."),
        "counter.history": ("履歴", "History"),
        "counter.event.help": (
            "届出の種類に応じて必要な項目を入力してください（下の表）。同じ画面から二度送信しても一度だけ記録されます。",
            "Fill in what the kind of change needs (table below). Sending the same form twice records it once.",
        ),
        "counter.event.fields": ("届出ごとの必要項目", "Fields each change needs"),
        "counter.event_type": ("届出の種類", "Kind of change"),
        "counter.field.resident_code": ("住民票コード", "Resident code"),
        "counter.field.effective_date": ("異動日", "Effective date"),
        "counter.field.name": ("氏名", "Name"),
        "counter.field.date_of_birth": ("生年月日", "Date of birth"),
        "counter.field.address": ("住所", "Address"),
        "counter.field.planned_date": ("転出予定日", "Planned move-out date"),
        "counter.field.reason": ("消除の理由", "Reason for deletion"),
        "counter.field.photo": ("顔写真", "Photograph"),
        "counter.field.express": ("特急発行", "Express issuance"),
        "counter.photo.help": ("JPEG か PNG、縦 45 mm × 横 35 mm、400 × 300 ピクセル以上。", "JPEG or PNG, 35 x 45 mm portrait, at least 300 x 400 pixels."),
        "counter.express.none": ("なし", "none"),
        "counter.express.newborn": ("新生児", "newborn"),
        "counter.express.loss": ("紛失による再交付", "reissue after loss"),
        "counter.express.abroad": ("国外からの転入", "moving in from abroad"),
        "counter.receipt.help": (
            "受付番号で、住民ポータルから誰でも申請状況を確認できます。",
            "Anyone with the receipt number can follow the application on the resident portal.",
        ),
        "counter.defects": ("不備", "Defects"),
        "counter.card_expires": ("カードの有効期限", "Card valid until"),
        "counter.certificates": ("電子証明書", "Certificates"),
        "counter.pickup_notice": ("交付通知書を印刷（PDF）", "Print the pickup notice (PDF)"),
        "counter.handover": ("交付", "Handover"),
        "counter.handover.help": (
            "本人確認書類を確認し、顔と写真を照合し、暗証番号は本人が入力します。カードの券面事項とチップの記録は送信時に照合されます。",
            "Check the identity document, compare the face with the photo, and let the holder key in the PINs. The chip's card-face data is compared with the printed card when you submit.",
        ),
        "counter.identity_document": ("本人確認書類", "Identity document"),
        "counter.face_matches": ("顔と写真が一致することを確認した", "The face matches the photo"),
        "counter.chip_check": ("券面事項とチップの記録の照合：送信時に自動で行います。", "Chip versus printed face data: checked automatically on submit."),
        "counter.pins_entered_by": ("暗証番号を入力した人", "PINs keyed in by"),
        "counter.entered_by.holder": ("本人", "the holder"),
        "counter.entered_by.clerk": ("職員", "a clerk"),
        "counter.entered_by.proxy": ("代理人", "a proxy"),
        "counter.auth_pin": ("利用者証明用・券面事項入力補助用 暗証番号（数字4桁）", "User-auth and card-face PIN (4 digits)"),
        "counter.sign_pin": ("署名用 暗証番号（英大文字と数字 6〜16 文字、15歳以上）", "Signature PIN (6-16 of A-Z and 0-9; 15 and over)"),
        "counter.pin_again": ("もう一度", "Again"),
        "counter.handover.submit": ("交付する", "Hand over"),
        "counter.actions": ("カードの手続", "Card procedures"),
        "counter.note": ("メモ", "Note"),
        "counter.action.suspend": ("一時停止", "Suspend"),
        "counter.action.lift": ("一時停止の解除", "Lift suspension"),
        "counter.action.loss": ("紛失届", "Report loss"),
        "counter.action.renew": ("電子証明書の更新", "Renew certificates"),
        "counter.action.return": ("返納", "Return"),
        "counter.action.abolish": ("廃止", "Abolish"),
        "counter.reissue": ("再交付の申請", "Apply for a reissue"),
        "counter.revoked_n": ("失効した証明書", "certificates revoked:"),
        "counter.done.handed over": ("交付しました。カードは利用中です。", "Handed over: the card is in use."),
        "counter.done.suspend": ("一時停止しました。電子証明書は失効しました。", "Suspended: the certificates are revoked."),
        "counter.done.lift": ("一時停止を解除しました。", "Suspension lifted."),
        "counter.done.loss": ("紛失を記録しました。", "Loss recorded."),
        "counter.done.renew": ("電子証明書を更新しました。", "Certificates renewed."),
        "counter.done.return": ("返納を記録しました。", "Return recorded."),
        "counter.done.abolish": ("廃止しました。", "Abolished."),
        "counter.error.resident_code": ("住民票コードは11桁の数字です。", "A resident code is 11 digits."),
        "counter.error.photo_size": ("写真は 5 MiB までです。", "The photograph may be at most 5 MiB."),
        "counter.error.auth_pin": ("数字4桁で入力してください。", "Enter 4 digits."),
        "counter.error.pin_again": ("一致しません。", "Does not match."),
        "form.error.date": ("日付は 2026-04-01 の形で入力してください。", "Enter a date like 2026-04-01."),
        "event.birth": ("出生", "birth"),
        "event.move-in": ("転入", "move-in"),
        "event.planned-move-out": ("転出届（予定）", "move-out notice (planned)"),
        "event.planned-move-out-withdrawn": ("転出取消", "move-out notice withdrawn"),
        "event.move-out": ("転出", "move-out"),
        "event.name-change": ("氏名の変更", "name change"),
        "event.address-change": ("転居", "address change"),
        "event.correction": ("記載の修正", "correction"),
        "event.death": ("死亡", "death"),
        "event.deletion": ("その他の消除", "other deletion"),
        "document.driving-licence": ("運転免許証", "driving licence"),
        "document.passport": ("旅券", "passport"),
        "document.residence-card": ("在留カード", "residence card"),
        "document.disability-certificate": ("身体障害者手帳", "disability certificate"),
        "document.two-documents": ("写真のない書類2点", "two documents without photo"),
        "application.cancelled": ("取消", "cancelled"),
        "application.defective": ("不備あり", "defective"),
        "application.accepted": ("受付済（製造待ち）", "accepted"),
        "application.in-production": ("製造中", "in production"),
        "application.produced": ("製造済", "produced"),
        "application.shipped": ("発送済", "shipped"),
        "application.handed-over": ("交付済", "handed over"),
    }
)

TEXT.update(
    {
        "portal.status": ("申請状況の確認", "Application status"),
        "portal.shipped_on": ("発送日", "Shipped on"),
        "portal.lost": ("カードをなくしたとき（一時利用停止）", "Lost your card? Suspend it"),
        "portal.lost.help": (
            "個人番号と、住民票のとおりの氏名・生年月日・住所を入力すると、お使いのカードを一時利用停止にし、電子証明書を失効させます（24時間受付）。停止したことはご本人に通知します。見つかったときは市区町村の窓口で解除できます。",
            "Enter your Individual Number, and your name, date of birth and address as registered: your card in use is suspended and its certificates revoked at once (open around the clock), and you are notified. If it turns up, the municipal counter lifts the suspension.",
        ),
        "portal.lost.submit": ("一時利用停止にする", "Suspend my card"),
        "portal.lost.done": ("カードを一時利用停止にしました。電子証明書は失効しました。", "Your card is suspended and its certificates are revoked."),
        "portal.lost.next": (
            "再交付は市区町村の窓口で申請してください（特急発行の対象です）。",
            "Apply for a new card at your municipality's counter (express issuance applies).",
        ),
        "portal.suspend": ("一時利用停止", "Suspend"),
    }
)

TEXT.update(
    {
        "console.volumes": ("日別の申請受付・発送枚数（直近30日）", "Applications received and cards shipped per day (last 30 days)"),
        "console.received": ("受付", "received"),
        "console.shipped": ("発送", "shipped"),
        "console.capacity": ("処理能力に対する使用率", "Use of capacity"),
        "console.capacity.day": ("本日の受付（上限 16万件/日）", "Received today (capacity 160,000 a day)"),
        "console.capacity.month": ("今月の発送（上限 480万枚/月）", "Shipped this month (capacity 4.8 million a month)"),
        "console.capacity.limit": ("上限", "Capacity"),
        "console.lead_time": ("リードタイムの分布（受付から発送まで、年末年始を除く日数）", "Lead time distribution (days from receipt to shipment, New Year excluded)"),
        "console.lead_time.help": (
            "期限：通常 {standard} 日、特急 {express} 日。",
            "Deadlines: {standard} days, express {express} days.",
        ),
        "console.standard": ("通常", "standard"),
        "console.month": ("月", "Month"),
        "console.max_days": ("最大日数", "Max days"),
        "console.mean_days": ("平均日数", "Mean days"),
        "console.over_deadline": ("期限超過", "Over deadline"),
        "console.alerts": ("期限が迫っている申請", "Applications close to their deadline"),
        "console.alerts.none": ("期限が迫っている申請はありません。", "No application is close to its deadline."),
        "console.alerts.more": ("ほかに", "and more:"),
        "console.days_left": ("残り日数", "Days left"),
        "console.municipality": ("市区町村", "Municipality"),
        "console.provisions": ("検証者への提供件数（今年度、区分別）", "Provisions to verifiers this fiscal year, by category"),
        "console.category": ("区分", "Category"),
    }
)

TEXT.update(
    {
        "error.refused": ("受け付けられませんでした。理由（英語）：", "Not accepted:"),
        "time.jst": ("日本時間", "JST"),
        "counter.pickup_notices": ("到着したカードの交付通知書をまとめて印刷（PDF）", "Print the pickup notices of all arrived cards (PDF)"),
        "counter.error.find": (
            "住民票コードは11桁の数字、カード番号は16文字（0-9、A-F）です。",
            "Enter an 11-digit resident code or a 16-character card id (0-9, A-F).",
        ),
        "counter.error.no_arrived": ("交付を待つカードはありません。", "No card is waiting for handover."),
        "counter.error.no_resident": ("この市区町村にこの住民票コードの住民はいません。", "No resident with this code in this municipality."),
        "counter.error.no_card": ("この市区町村にこのカードの記録はありません。", "No such card at this municipality."),
        "counter.error.card_id": ("カード番号が正しくありません。", "This is not a valid card id."),
        "counter.error.face": (
            "本人の顔と写真の一致を確認してください。確認できないときは交付できません。",
            "Check that the face matches the photo: without that the card is not handed over.",
        ),
        "counter.error.sign_pin": ("英大文字と数字 6〜16 文字で入力してください。", "Enter 6-16 of A-Z and 0-9."),
        "counter.error.sign_pin_required": (
            "このカードには署名用電子証明書があります。署名用暗証番号も本人が設定します。",
            "This card has a signature certificate: the holder sets its PIN too.",
        ),
        "counter.error.action": ("この手続はありません。", "No such procedure."),
        "counter.done.event": ("届出を記録しました：", "Recorded: "),
        "counter.note.handed_over": ("交付", "handed over"),
        "counter.note.portal_lost": ("紛失：住民ポータルから届出", "lost: reported on the resident portal"),
        "counter.note.replaced_by": ("再交付により廃止、新しいカード", "replaced by"),
        "defect.photo-missing": ("顔写真がありません", "No photograph"),
        "defect.photo-unusable": ("顔写真が使えません", "Photograph not usable"),
        "defect.not-resident": ("住民登録がありません", "Not on the resident register"),
        "defect.name-mismatch": ("氏名が住民票と違います", "Name differs from the record"),
        "defect.address-mismatch": ("住所が住民票と違います", "Address differs from the record"),
        "defect.date-of-birth-mismatch": ("生年月日が住民票と違います", "Date of birth differs from the record"),
        "defect.sex-mismatch": ("性別が住民票と違います", "Sex differs from the record"),
        "defect.duplicate": ("申請が重複しています", "Duplicate"),
        "defect.nothing-to-reissue": ("再交付の対象となるカードがありません", "Nothing to reissue"),
        "defect.renewal-not-due": ("更新の時期ではありません", "Renewal not yet due"),
        "defect.express-not-eligible": ("特急発行の対象ではありません", "Not eligible for express issuance"),
        "counter.note.application": ("申請", "application"),
        "counter.note.shipment": ("発送", "shipment"),
    }
)
