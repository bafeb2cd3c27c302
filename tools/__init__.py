# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from . import bulk_rows
from . import quiet_hours
from . import sms_compliance
from . import sms_countries
from . import sms_http
from . import sms_providers
from . import sms_requests
from . import sms_senders
from . import sms_text
from . import standard_webhooks
from . import table_storage
