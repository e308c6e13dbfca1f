"""admit_require(condition): raises unless ``condition`` is true (PostgreSQL only).

The final clause of a guarded batch of records (``admit.core.rows.records_only``): an error
there undoes every write of the statement, so the batch lands only while its guard holds.
"""

from django.db import migrations

SQLSTATE = "AD001"  # admit's own class "AD": a guard found false, nothing written

CREATE = f"""
CREATE OR REPLACE FUNCTION admit_require(condition boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF condition IS NOT TRUE THEN
        RAISE EXCEPTION 'the guard of a batch of records is false' USING ERRCODE = '{SQLSTATE}';
    END IF;
    RETURN true;
END
$$
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS admit_require(boolean)")


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
