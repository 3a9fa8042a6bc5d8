"""The initial schema: every table as SQLAlchemy's create_all made it before there were migrations, the push
fan-out's outbox, deliveries and bulk jobs included.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("app_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_kind", sa.String(length=10), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=True),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=60), nullable=True),
        sa.Column("acting_for_id", sa.String(length=36), nullable=True),
        sa.Column("origin_session_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_app_sessions_refresh_hash"), "app_sessions", ["refresh_hash"], unique=False)
    op.create_index(op.f("ix_app_sessions_subject_id"), "app_sessions", ["subject_id"], unique=False)
    op.create_table("audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=True),
        sa.Column("care_unit_id", sa.String(length=40), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash")
    )
    op.create_index(op.f("ix_audit_log_actor_id"), "audit_log", ["actor_id"], unique=False)
    op.create_index(op.f("ix_audit_log_subject_id"), "audit_log", ["subject_id"], unique=False)
    op.create_table("auth_codes",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=10), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("hash")
    )
    op.create_table("bulk_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("care_unit_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_table("erasures",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased", sa.JSON(), nullable=False),
        sa.Column("kept", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_erasures_person_id"), "erasures", ["person_id"], unique=False)
    op.create_table("outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bulk_job_id", sa.String(length=36), nullable=True),
        sa.Column("idempotency_key", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_outbox_bulk_job_id"), "outbox", ["bulk_job_id"], unique=False)
    op.create_index(op.f("ix_outbox_state"), "outbox", ["state"], unique=False)
    op.create_table("regions",
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("joined", sa.Boolean(), nullable=False),
        sa.Column("video_mode", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("code")
    )
    op.create_table("web_logins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("verifier_salt", sa.String(length=64), nullable=False),
        sa.Column("next_path", sa.String(length=500), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash")
    )
    op.create_index(op.f("ix_web_logins_expires_at"), "web_logins", ["expires_at"], unique=False)
    op.create_table("care_units",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("region_code", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], ),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_table("deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("bulk_job_id", sa.String(length=36), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=120), nullable=True),
        sa.Column("provider_id", sa.String(length=200), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], ),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_deliveries_bulk_job_id"), "deliveries", ["bulk_job_id"], unique=False)
    op.create_index(op.f("ix_deliveries_message_id"), "deliveries", ["message_id"], unique=False)
    op.create_table("persons",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("personnummer", sa.String(length=12), nullable=False),
        sa.Column("given_name", sa.String(length=80), nullable=False),
        sa.Column("family_name", sa.String(length=80), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("region_code", sa.String(length=2), nullable=False),
        sa.Column("deceased", sa.Boolean(), nullable=False),
        sa.Column("protected_identity", sa.Boolean(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("personnummer")
    )
    op.create_table("used_refresh_tokens",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["app_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("hash")
    )
    op.create_table("bookings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("care_unit_id", sa.String(length=40), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["care_unit_id"], ["care_units.id"], ),
        sa.ForeignKeyConstraint(["patient_id"], ["persons.id"], ),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_bookings_patient_id"), "bookings", ["patient_id"], unique=False)
    op.create_table("care_relations",
        sa.Column("care_unit_id", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["care_unit_id"], ["care_units.id"], ),
        sa.ForeignKeyConstraint(["patient_id"], ["persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("care_unit_id", "patient_id")
    )
    op.create_table("consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("text_version", sa.String(length=20), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_consents_person_id"), "consents", ["person_id"], unique=False)
    op.create_table("devices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("installation_id", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=10), nullable=False),
        sa.Column("provider", sa.String(length=10), nullable=False),
        sa.Column("token", sa.String(length=300), nullable=False),
        sa.Column("app_version", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deactivated_reason", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_devices_person_id"), "devices", ["person_id"], unique=False)
    op.create_index("ix_devices_person_installation", "devices", ["person_id", "installation_id"], unique=False)
    op.create_index(op.f("ix_devices_token"), "devices", ["token"], unique=False)
    op.create_table("guardianships",
        sa.Column("guardian_id", sa.String(length=36), nullable=False),
        sa.Column("child_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["persons.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["guardian_id"], ["persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("guardian_id", "child_id")
    )
    op.create_table("journal_entries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("care_unit_id", sa.String(length=40), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["care_unit_id"], ["care_units.id"], ),
        sa.ForeignKeyConstraint(["patient_id"], ["persons.id"], ),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_journal_entries_patient_id"), "journal_entries", ["patient_id"], unique=False)
    op.create_table("messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("care_unit_id", sa.String(length=40), nullable=False),
        sa.Column("sender_name", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["care_unit_id"], ["care_units.id"], ),
        sa.ForeignKeyConstraint(["patient_id"], ["persons.id"], ),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index(op.f("ix_messages_patient_id"), "messages", ["patient_id"], unique=False)
    op.create_table("notification_settings",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("push", sa.Boolean(), nullable=False),
        sa.Column("sms", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["persons.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subject_id"], ["persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("owner_id", "subject_id")
    )
    op.create_table("sso_tickets",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("app_session_id", sa.String(length=36), nullable=False),
        sa.Column("audience", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["app_session_id"], ["app_sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("hash")
    )
    op.create_table("staff",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("hsa_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("care_unit_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["care_unit_id"], ["care_units.id"], ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hsa_id")
    )


def downgrade() -> None:
    op.drop_table("staff")
    op.drop_table("sso_tickets")
    op.drop_table("notification_settings")
    op.drop_index(op.f("ix_messages_patient_id"), table_name="messages")
    op.drop_table("messages")
    op.drop_index(op.f("ix_journal_entries_patient_id"), table_name="journal_entries")
    op.drop_table("journal_entries")
    op.drop_table("guardianships")
    op.drop_index(op.f("ix_devices_token"), table_name="devices")
    op.drop_index("ix_devices_person_installation", table_name="devices")
    op.drop_index(op.f("ix_devices_person_id"), table_name="devices")
    op.drop_table("devices")
    op.drop_index(op.f("ix_consents_person_id"), table_name="consents")
    op.drop_table("consents")
    op.drop_table("care_relations")
    op.drop_index(op.f("ix_bookings_patient_id"), table_name="bookings")
    op.drop_table("bookings")
    op.drop_table("used_refresh_tokens")
    op.drop_table("persons")
    op.drop_index(op.f("ix_deliveries_message_id"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_bulk_job_id"), table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("care_units")
    op.drop_index(op.f("ix_web_logins_expires_at"), table_name="web_logins")
    op.drop_table("web_logins")
    op.drop_table("regions")
    op.drop_index(op.f("ix_outbox_state"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_bulk_job_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_erasures_person_id"), table_name="erasures")
    op.drop_table("erasures")
    op.drop_table("bulk_jobs")
    op.drop_table("auth_codes")
    op.drop_index(op.f("ix_audit_log_subject_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_actor_id"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_app_sessions_subject_id"), table_name="app_sessions")
    op.drop_index(op.f("ix_app_sessions_refresh_hash"), table_name="app_sessions")
    op.drop_table("app_sessions")
