"""Storage: SQLAlchemy 2 models and the engine. SQLite by default, PostgreSQL by URL (SUT_DATABASE_URL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker, synonym

from . import migrations

SQLITE_BUSY_TIMEOUT = 30  # seconds a unit of work waits for SQLite's write lock before it gives up


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map: ClassVar = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Region(Base):
    __tablename__ = "regions"
    code: Mapped[str] = mapped_column(String(2), primary_key=True)  # county code, e.g. "01"
    name: Mapped[str] = mapped_column(String(80))
    joined: Mapped[bool] = mapped_column(Boolean)  # BR-REG-1
    # BR-REG-2: "inera" (embedded video), "regional-sso" (WebView with SSO), "external" (browser, no SSO)
    video_mode: Mapped[str] = mapped_column(String(20))


class CareUnit(Base):
    __tablename__ = "care_units"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # HSA-id
    name: Mapped[str] = mapped_column(String(120))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))


class Person(Base):
    __tablename__ = "persons"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    personnummer: Mapped[str] = mapped_column(String(12), unique=True)  # YYYYMMDDNNNC
    given_name: Mapped[str] = mapped_column(String(80))
    family_name: Mapped[str] = mapped_column(String(80))
    birth_date: Mapped[date] = mapped_column(Date)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    deceased: Mapped[bool] = mapped_column(Boolean, default=False)
    protected_identity: Mapped[bool] = mapped_column(Boolean, default=False)  # skyddad folkbokföring
    address: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))
    role: Mapped[str] = mapped_column(String(40))  # the seed role it was made for


class Guardianship(Base):
    __tablename__ = "guardianships"
    guardian_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    child_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    hsa_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    care_unit_id: Mapped[str] = mapped_column(ForeignKey("care_units.id"))


class CareRelation(Base):
    __tablename__ = "care_relations"
    care_unit_id: Mapped[str] = mapped_column(ForeignKey("care_units.id"), primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)


class Message(Base):
    """A message from a care unit to a patient: a health record (kept under PdL 3 kap. and Arkivlagen)."""

    __tablename__ = "messages"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    care_unit_id: Mapped[str] = mapped_column(ForeignKey("care_units.id"))
    sender_name: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)  # "delete" only hides it (PDL-3-14)


class Booking(Base):
    __tablename__ = "bookings"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    care_unit_id: Mapped[str] = mapped_column(ForeignKey("care_units.id"))
    starts_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))  # "visit" or "video"
    status: Mapped[str] = mapped_column(String(20), default="booked")  # booked, cancelled


class JournalEntry(Base):
    """Journal (Journalen): never available to an ombud (BR-PROXY-1, HFD 2017:67)."""

    __tablename__ = "journal_entries"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    patient_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    care_unit_id: Mapped[str] = mapped_column(ForeignKey("care_units.id"))
    written_at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)


class NotificationSetting(Base):
    """Channel choices of ``owner`` for messages to ``subject`` (self, or a child the owner is guardian of)."""

    __tablename__ = "notification_settings"
    owner_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    push: Mapped[bool] = mapped_column(Boolean, default=False)
    sms: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]


class Consent(Base):
    """A consent with the time and the version of the text the user agreed to (BR-GDPR-1)."""

    __tablename__ = "consents"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))  # "push"
    text_version: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class Device(Base):
    """A registered app installation and its push token (BR-NOTIF-1, BR-NOTIF-4)."""

    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    installation_id: Mapped[str] = mapped_column(String(64))  # stable per app installation
    platform: Mapped[str] = mapped_column(String(10))  # ios, android
    provider: Mapped[str] = mapped_column(String(10))  # apns, fcm
    token: Mapped[str] = mapped_column(String(300), index=True)
    app_version: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    registered_at: Mapped[datetime]
    deactivated_at: Mapped[datetime | None]
    deactivated_reason: Mapped[str | None] = mapped_column(String(60))

    __table_args__ = (Index("ix_devices_person_installation", "person_id", "installation_id"),)


class AppSession(Base):
    """A login: app (token based) or web (cookie based). Refresh tokens rotate within a family (BR-ID-2)."""

    __tablename__ = "app_sessions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subject_kind: Mapped[str] = mapped_column(String(10))  # person, staff
    subject_id: Mapped[str] = mapped_column(String(36), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # app, web
    method: Mapped[str] = mapped_column(String(20))  # bankid, freja, siths, sso
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    refresh_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    refresh_expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(60))
    # Web sessions only, kept here so they survive a restart and hold across server processes: whom the user acts
    # for (BR-PROXY-1, checked again on every request), and the app session whose SSO ticket opened the session,
    # whose logout ends it (BR-ID-3).
    acting_for_id: Mapped[str | None] = mapped_column(String(36))
    origin_session_id: Mapped[str | None] = mapped_column(String(36))


class WebLogin(Base):
    """A web login under way from /login to /auth/callback (BR-ID-1): used once, within its lifetime."""

    __tablename__ = "web_logins"
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The PKCE verifier is derived from the state and this salt: without the state (only its hash is here) the
    # database does not give the verifier away.
    verifier_salt: Mapped[str] = mapped_column(String(64))
    next_path: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class UsedRefreshToken(Base):
    """Hashes of rotated-away refresh tokens: a reuse means theft, and revokes the session."""

    __tablename__ = "used_refresh_tokens"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("app_sessions.id", ondelete="CASCADE"))


class AuthCode(Base):
    __tablename__ = "auth_codes"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[str] = mapped_column(String(36))
    method: Mapped[str] = mapped_column(String(20))
    redirect_uri: Mapped[str | None] = mapped_column(String(500))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SsoTicket(Base):
    """One-time, audience-bound ticket into a WebView or regional service, valid about 60 s (BR-ID-3)."""

    __tablename__ = "sso_tickets"
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    app_session_id: Mapped[str] = mapped_column(ForeignKey("app_sessions.id", ondelete="CASCADE"))
    audience: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuditRecord(Base):
    """Append-only, hash-chained audit log of every read of patient data (BR-AUDIT-1, PDL 4 kap. 3 §)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(10))  # person, staff
    actor_id: Mapped[str] = mapped_column(String(36), index=True)
    subject_id: Mapped[str] = mapped_column(String(36), index=True)  # whose data
    role: Mapped[str] = mapped_column(String(10))  # self, ombud, staff
    action: Mapped[str] = mapped_column(String(40))  # e.g. message.read
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str | None] = mapped_column(String(36))
    care_unit_id: Mapped[str | None] = mapped_column(String(40))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class ErasureRecord(Base):
    """Proof that an erasure request was carried out, and what it kept and why (GDPR art. 17.3)."""

    __tablename__ = "erasures"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    person_id: Mapped[str] = mapped_column(String(36), index=True)
    at: Mapped[datetime]
    erased: Mapped[dict[str, Any]]
    kept: Mapped[dict[str, Any]]


class OutboxEvent(Base):
    """Transactional outbox: written in the same transaction as the message; the fan-out reads it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))  # message.created
    message_id: Mapped[str] = mapped_column(String(36))
    patient_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # pending, done
    claimed_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    bulk_job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # Made with the row: the opaque reference in every notification of this event, and the root from which each
    # delivery's idempotency key is derived, so a retry or a restarted worker sends the same key (BR-NOTIF-4).
    idempotency_key: Mapped[str] = mapped_column(String(36), default=new_id)


class Delivery(Base):
    """One notification on one channel to one device or address: exactly once (BR-NOTIF-2, BR-NOTIF-4)."""

    __tablename__ = "deliveries"
    # The id is the delivery's idempotency key, derived from its outbox event, recipient, channel and device: a
    # retry or a restarted worker sends the same key, as apns-id and apns-collapse-id, FCM android.collapse_key,
    # or the Idempotency-Key header of the SMS and e-mail gateways.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    bulk_job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    message_id: Mapped[str] = mapped_column(String(36), index=True)
    subject_id: Mapped[str] = mapped_column(String(36))  # whose message: the recipient, or a child acted for
    recipient_id: Mapped[str] = mapped_column(String(36))
    channel: Mapped[str] = mapped_column(String(10))  # apns, fcm, sms, email
    device_id: Mapped[str | None] = mapped_column(String(36))
    address: Mapped[str] = mapped_column(String(300))  # token, phone or e-mail address
    state: Mapped[str] = mapped_column(String(20), default="queued")  # queued, sent, delivered, failed, pruned
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(String(120))
    provider_id: Mapped[str | None] = mapped_column(String(200))  # apns-id, FCM message name, gateway id
    enqueued_at: Mapped[datetime]  # real time, compared with the gateways' receive times
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    idempotency_key = synonym("id")


class BulkJob(Base):
    """A staff bulk send (BR-STAFF-1): answered at once, worked through in the background."""

    __tablename__ = "bulk_jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    staff_id: Mapped[str] = mapped_column(String(36))
    care_unit_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    total: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer, default=0)  # messages written (each with its outbox event)
    rejected: Mapped[int] = mapped_column(Integer, default=0)  # no care relation, or no such patient
    state: Mapped[str] = mapped_column(String(20), default="running")  # running, done, failed
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(200))


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite would begin a transaction only at the first write, so a unit of work that read first had
            # to take SQLite's write lock halfway through, while holding other locks (the audit chain's): two
            # such requests waited for each other until the busy timeout ended one with "database is locked".
            # Without pysqlite's own handling, the "begin" hook below says how every transaction begins.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            # WAL: a commit is an append (synced at checkpoints with synchronous=NORMAL), and readers from outside
            # (a test's own connection, the sqlite3 shell) never wait for the system. Foreign keys are off by default.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Connection) -> None:
            # Nearly every unit of work writes (a session touch, an audit record, an outbox row): it takes the
            # one write lock before it reads, so it waits in the busy handler, holding nothing, instead of failing
            # to upgrade a read (SQLITE_BUSY) or waiting while it holds a lock another writer needs.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    target = make_url(url)
    if target.drivername == "postgresql":
        target = target.set(drivername="postgresql+psycopg")  # the driver of the `postgres` extra, not psycopg2
    engine = create_engine(target, pool_size=10, max_overflow=20, pool_pre_ping=True)
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def _utc_session(dbapi_conn: Any, _record: Any) -> None:
            # Datetimes come back in the session's time zone, which is the server's unless set: UTC, as SQLite
            # gives them, so what is read back (and hashed into the audit chain) never depends on the server.
            with dbapi_conn.cursor() as cur:
                cur.execute("SET TIME ZONE 'UTC'")
            dbapi_conn.commit()

    return engine


def init_db(engine: Engine) -> sessionmaker:
    """Bring the schema to this version's revision (sut/migrations), then hand out sessions on it."""
    migrations.upgrade(engine)
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(sessions: sessionmaker) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error, always close."""
    session = sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
