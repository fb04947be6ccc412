"""The engine's weight and outlier flag move from the reports table to a narrow table of their own.

Every reconciliation rewrites them; in the wide reports table, with its eleven
indexes and history, that update cost more than the engine (a first full run
of 10,000 sites: ≈30 s of ≈65 s). The figures are copied across, and the
reports table gets its default fillfactor back (the room was for those updates).
"""

import django.db.models.deletion
from django.db import migrations, models

REPORTS = "shelters_populationreport"
ASSESSMENTS = "shelters_reportassessment"


def copy_to_assessments(apps, schema_editor) -> None:
    schema_editor.execute(
        f"INSERT INTO {ASSESSMENTS} (report_id, weight, outlier) "
        f"SELECT id, engine_weight, is_outlier FROM {REPORTS} WHERE engine_weight IS NOT NULL"
    )
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {REPORTS} RESET (fillfactor)")


def copy_back_to_reports(apps, schema_editor) -> None:
    schema_editor.execute(
        f"UPDATE {REPORTS} SET "
        f"engine_weight = (SELECT weight FROM {ASSESSMENTS} a WHERE a.report_id = {REPORTS}.id), "
        f"is_outlier = COALESCE((SELECT outlier FROM {ASSESSMENTS} a WHERE a.report_id = {REPORTS}.id), false)"
    )


class Migration(migrations.Migration):

    dependencies = [
        ('shelters', '0011_reconciliation_input_fingerprint'),
    ]

    operations = [
        migrations.CreateModel(
            name='ReportAssessment',
            fields=[
                ('report', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='assessment', serialize=False, to='shelters.populationreport', verbose_name='report')),
                ('weight', models.FloatField(verbose_name='engine weight')),
                ('outlier', models.BooleanField(default=False, verbose_name='outlier')),
            ],
            options={
                'verbose_name': 'report assessment',
                'verbose_name_plural': 'report assessments',
            },
        ),
        migrations.RunPython(copy_to_assessments, copy_back_to_reports),
        migrations.RemoveField(
            model_name='historicalpopulationreport',
            name='engine_weight',
        ),
        migrations.RemoveField(
            model_name='historicalpopulationreport',
            name='is_outlier',
        ),
        migrations.RemoveField(
            model_name='populationreport',
            name='engine_weight',
        ),
        migrations.RemoveField(
            model_name='populationreport',
            name='is_outlier',
        ),
    ]
