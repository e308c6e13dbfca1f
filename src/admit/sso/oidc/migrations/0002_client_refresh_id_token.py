"""``Client.refresh_id_token``: whether a refresh answer carries a new ID token.

Clients made before this migration had one in every refresh answer, and keep it (the column is
added as true for them); a client added from now on is made without unless it asks.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("oidc", "0001_provider")]

    operations = [
        migrations.AddField(
            model_name="client",
            name="refresh_id_token",
            field=models.BooleanField(default=True),
        ),
        migrations.AlterField(
            model_name="client",
            name="refresh_id_token",
            field=models.BooleanField(default=False),
        ),
    ]
