"""``Confirmation.proves_email_key``: the address a key was e-mailed to, and to nobody else.

Keys handed out before it prove no address, except those the sso app's migration 0007 fills
in (the sign-ups and changes of address still waiting for their link).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("confirmations", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="confirmation",
            name="proves_email_key",
            field=models.CharField(blank=True, default="", max_length=254),
        ),
    ]
