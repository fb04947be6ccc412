from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shelters", "0008_review_items")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="language",
            field=models.CharField(
                blank=True,
                choices=[("en", "English"), ("ar", "Arabic")],
                help_text="Language of the admin pages.",
                max_length=8,
                verbose_name="language",
            ),
        ),
    ]
