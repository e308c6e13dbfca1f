"""Zato's names for the user's facts (approval_status values, approval_status_mod_*,
is_totp_enabled, creation_ctx), accounts without an address, and SSO attributes."""

import django.db.models.deletion
from django.db import migrations, models


def forwards(apps, schema_editor):
    User = apps.get_model("sso", "User")
    User.with_held_signups.filter(approval_status="pending").update(
        approval_status="before_decision"
    )
    User.with_held_signups.exclude(totp_secret="").update(is_totp_enabled=True)


def backwards(apps, schema_editor):
    User = apps.get_model("sso", "User")
    User.with_held_signups.filter(approval_status="before_decision").update(
        approval_status="pending"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("sso", "0003_held_signups_known_addresses"),
    ]

    operations = [
        migrations.RenameField("user", "approved_at", "approval_status_mod_time"),
        migrations.RenameField("user", "approved_by", "approval_status_mod_by"),
        migrations.AddField(
            model_name="user",
            name="is_totp_enabled",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="user",
            name="pending_email",
            field=models.CharField(blank=True, max_length=254),
        ),
        migrations.AddField(
            model_name="user",
            name="creation_ctx",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="user",
            name="approval_status",
            field=models.CharField(
                choices=[("before_decision", "Pending"), ("approved", "Approved")],
                default="before_decision",
                max_length=16,
            ),
        ),
        migrations.RemoveConstraint(model_name="user", name="sso_user_email_key_one_account"),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("holds_taken_email", False), models.Q(("email_key", ""), _negated=True)
                ),
                fields=("email_key",),
                name="sso_user_email_key_one_account",
            ),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.CreateModel(
            name="Attribute",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=191)),
                ("value", models.TextField()),
                ("is_encrypted", models.BooleanField(default=False)),
                ("creation_time", models.DateTimeField()),
                ("last_modified", models.DateTimeField()),
                ("expiration_time", models.DateTimeField(blank=True, null=True)),
                (
                    "session",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attributes",
                        to="sso.session",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attributes",
                        to="sso.user",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("session__isnull", True)),
                        fields=("user", "name"),
                        name="one_user_attribute_per_name",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("session__isnull", False)),
                        fields=("session", "name"),
                        name="one_session_attribute_per_name",
                    ),
                ],
            },
        ),
    ]
