# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from . import mailing_contact
from . import mailing_list
from . import mailing_sms_protections
from . import mailing_sms_recipients
from . import mailing_sms_texts
from . import mailing_sms_campaign
from . import mailing_mailing
from . import mailing_sms_pacing
from . import mailing_trace
from . import res_company
from . import res_config_settings
from . import res_users
from . import sms_sms
from . import sms_tracker
from . import sms_twilio_number
from . import utm_campaign
from . import utm_medium
