# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
from . import test_install
from . import test_sms_optout
from . import test_mailing_sending
from . import test_ui_tours
from . import test_views_mailing
from . import test_mailing_statuses
from . import test_mailing_links
from . import test_mailing_retry
from . import test_mailing_sms_test
from . import test_mailing_ab_testing
from . import test_mailing_lists
from . import test_compat_migration
from . import test_sms_dispatch
from . import test_mailing_performance
from . import test_mailing_protections
from . import test_blacklist_rights
from . import test_sms_composer
