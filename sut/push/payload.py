"""What a notification says: fixed texts, an opaque reference and a deep link; nothing personal (BR-NOTIF-3).

Never a personnummer, name, subject, body, care unit or diagnosis: the lock screen is not private, and the
payload passes through Apple and Google (GDPR art. 5.1 c, OSL 25 kap. 1 §). The deep link opens the message
itself, so the user reaches it in at most two taps after login (BR-INBOX-2).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from .. import faults
from ..links import app_link

TITLE = "1177"
TEXT_SELF = "Du har ett nytt meddelande i 1177"
TEXT_PROXY = "Du har ett nytt meddelande som gäller ett barn du är ombud för"
SMS_SELF = "Du har ett nytt meddelande i 1177. Logga in på 1177.se eller i appen 1177 för att läsa det."
SMS_PROXY = ("Du har ett nytt meddelande i 1177 som gäller ett barn du är ombud för. "
             "Logga in på 1177.se eller i appen 1177 för att läsa det.")
EMAIL_SUBJECT = "Nytt meddelande i 1177"
EMAIL_FROM = "no-reply@1177.se"
SMS_FROM = "1177"
MAX_PUSH_BYTES = 4096  # APNs and FCM both stop at 4 KB
PUSH_TTL = 24 * 3600  # a notice older than a day is no use; the message waits in the inbox anyway


@dataclass(frozen=True, slots=True)
class Notice:
    """One new message as the fan-out sees it; ``proxy_for`` is the child when the recipient is a guardian."""

    message_id: str
    ref: str
    proxy_for: str | None = None
    subject: str | None = None  # read only by the push-subject-in-payload fault

    @property
    def link(self) -> str:
        base = app_link(f"inbox/messages/{self.message_id}")
        return f"{base}?acting_for={self.proxy_for}" if self.proxy_for else base

    @property
    def text(self) -> str:
        text = TEXT_PROXY if self.proxy_for else TEXT_SELF
        if faults.active("push-subject-in-payload") and self.subject:
            text = f"{text}: {self.subject}"  # the defect: the subject may itself be health data
        return text


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def apns_payload(notice: Notice) -> bytes:
    return _dumps({"aps": {"alert": {"title": TITLE, "body": notice.text}, "sound": "default",
                           "thread-id": "1177-inbox"}, "ref": notice.ref, "link": notice.link})


def fcm_body(notice: Notice, token: str, key: str) -> bytes:
    # android.collapse_key carries the idempotency key: a retry replaces, never adds (BR-NOTIF-4).
    return _dumps({"message": {
        "token": token,
        "notification": {"title": TITLE, "body": notice.text},
        "data": {"ref": notice.ref, "link": notice.link},
        "android": {"priority": "HIGH", "ttl": f"{PUSH_TTL}s", "collapse_key": key,
                    "notification": {"channel_id": "inbox", "click_action": "OPEN_MESSAGE"}},
    }})


def sms_body(notice: Notice, to: str) -> bytes:
    return _dumps({"to": to, "from": SMS_FROM, "text": SMS_PROXY if notice.proxy_for else SMS_SELF,
                   "reference": notice.ref})


def email_body(notice: Notice, to: str) -> bytes:
    return _dumps({"to": to, "from": EMAIL_FROM, "subject": EMAIL_SUBJECT,
                   "text": (SMS_PROXY if notice.proxy_for else SMS_SELF), "reference": notice.ref})


def apns_expiration() -> int:
    return int(time.time()) + PUSH_TTL
