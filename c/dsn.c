/* dsn.c - delivery status notification requests on a letter (RFC 3461).
 * The SMTP transaction (transaction.c) sends them as MAIL and RCPT
 * parameters. */
#include <string.h>

#include "po_private.h"

int po_letter_set_dsn_notify(po_letter *l, unsigned notify)
{
	if (!l)
		return po__fail(PO_EINVAL, "DSN NOTIFY: no letter");
	if (notify & ~0xfu)
		return po__fail(PO_EINVAL, "DSN NOTIFY: unknown value %#x",
				notify);
	if ((notify & PO_DSN_NOTIFY_NEVER) && notify != PO_DSN_NOTIFY_NEVER)
		return po__fail(PO_EINVAL,
				"DSN NOTIFY: NEVER cannot go with SUCCESS, "
				"FAILURE or DELAY");
	l->dsn_notify = notify;
	return PO_OK;
}

int po_letter_set_dsn_ret(po_letter *l, int ret)
{
	if (!l)
		return po__fail(PO_EINVAL, "DSN RET: no letter");
	if (ret != 0 && ret != PO_DSN_RET_FULL && ret != PO_DSN_RET_HDRS)
		return po__fail(PO_EINVAL, "DSN RET: %d is not FULL or HDRS",
				ret);
	l->dsn_ret = ret;
	return PO_OK;
}

int po_letter_set_dsn_envid(po_letter *l, const char *envid)
{
	size_t n, i;

	if (!l)
		return po__fail(PO_EINVAL, "DSN ENVID: no letter");
	if (!envid) {
		l->dsn_envid[0] = '\0';
		return PO_OK;
	}
	n = strlen(envid);
	if (n == 0 || n >= sizeof l->dsn_envid)
		return po__fail(PO_EINVAL,
				"DSN ENVID: 1 to 100 characters, not %zu", n);
	for (i = 0; i < n; i++)
		if ((unsigned char)envid[i] < 33 ||
		    (unsigned char)envid[i] > 126)
			return po__fail(PO_EINVAL,
					"DSN ENVID \"%.40s\": printable ASCII "
					"only",
					envid);
	memcpy(l->dsn_envid, envid, n + 1);
	return PO_OK;
}
