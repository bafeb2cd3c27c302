# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Start Odoo's command line with this checkout loaded as ``mass_mailing_sms``.

Odoo picks an addon from the first folder of ``odoo.addons.__path__`` holding it. In a
packaged build every core addon (Odoo's ``mass_mailing_sms`` included) sits in
``odoo/addons``, which Odoo always puts first, so ``--addons-path`` order alone cannot
make ours win. We put the folder linking this checkout at the very front before Odoo
reads its configuration; Odoo then only appends its own folders behind it.

Environment: ``ODOO_SRC`` (Odoo source tree) and ``MMS_ADDONS_DIR`` (folder holding the
``mass_mailing_sms`` link), both set by ``bin/_env.sh``.
"""

import os
import sys


def main():
    odoo_src = os.environ["ODOO_SRC"]
    addons_dir = os.path.abspath(os.environ["MMS_ADDONS_DIR"])
    os.environ["TZ"] = "UTC"  # as odoo-bin does, before the time module is used
    sys.path.insert(0, odoo_src)
    import odoo  # noqa: PLC0415 (needs the path above)

    import odoo.addons  # noqa: PLC0415

    odoo.addons.__path__.insert(0, os.path.normcase(addons_dir))
    sys.argv[0] = os.path.join(odoo_src, "odoo-bin")
    odoo.cli.main()


if __name__ == "__main__":
    main()
