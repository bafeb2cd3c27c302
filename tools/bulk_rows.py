# Part of mass_mailing_sms. See LICENSE file for full copyright and licensing details.
"""Values of many rows in few statement parameters (the build's bulk inserts, issue 28)."""


def same_value(values):
    """Whether every one of ``values`` (not empty) is the first one, of the same type
    (``0`` and ``False`` differ)."""
    first = values[0]
    kind = type(first)
    return all(value is first or (type(value) is kind and value == first) for value in values)


def array_literal(values):
    """PostgreSQL's text form of an array of ``values`` (int, str, bool or None), to pass as
    one string parameter cast to the array's type; None when a value is of another type.

    psycopg2 writes a list as ``ARRAY[...]`` with one quoted constant per item, which it
    builds and PostgreSQL parses one by one: for a batch of 1,000 rows of about twenty
    columns, tens of milliseconds on both sides, where one string per column takes one.
    """
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
        elif value is True or value is False:
            items.append("t" if value else "f")
        elif type(value) is int:
            items.append(str(value))
        elif type(value) is str:
            # inside double quotes, only the backslash and the double quote are special
            items.append('"%s"' % value.replace("\\", "\\\\").replace('"', '\\"'))
        else:
            return None
    return "{%s}" % ",".join(items)
