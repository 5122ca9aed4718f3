# The fulfillment tick claims due orders of one status in primary-key order (keyset batches):
# with `id` in the status index, a claim reads only the rows it takes, however many finished
# orders lie before them. It replaces (status, hold_reason), which it covers.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0002_simulated_fulfillment'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='order',
            index=models.Index(fields=['status', 'hold_reason', 'id'], name='order_status_hold_id_idx'),
        ),
        migrations.RemoveIndex(
            model_name='order',
            name='order_status_hold_idx',
        ),
    ]
