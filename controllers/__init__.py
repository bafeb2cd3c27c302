# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from . import link_tracker
from . import sms_optout
from . import sms_http
from . import sms_twilio
