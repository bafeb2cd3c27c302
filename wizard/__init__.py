# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from . import mailing_mailing_schedule_date
from . import mailing_sms_send_confirm
from . import mailing_sms_test
from . import sms_composer
