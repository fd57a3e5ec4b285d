/* error.c - status names and texts from PO_ERROR_MAP, and the per-thread
 * explanation of the last failure. */
#include <stdarg.h>
#include <stdio.h>

#include "po_private.h"

static _Thread_local char last_error[512];

const char *po_strerror(int status)
{
	switch (status) {
#define PO__TEXT(name, code, text)                                          \
	case code:                                                          \
		return text;
		PO_ERROR_MAP(PO__TEXT)
#undef PO__TEXT
	}
	return "unknown error";
}

const char *po_errname(int status)
{
	switch (status) {
#define PO__NAME(name, code, text)                                          \
	case code:                                                          \
		return #name;
		PO_ERROR_MAP(PO__NAME)
#undef PO__NAME
	}
	return "UNKNOWN";
}

const char *po_last_error(void)
{
	return last_error;
}

int po__fail(int status, const char *fmt, ...)
{
	va_list ap;

	if (!fmt) {
		snprintf(last_error, sizeof last_error, "%s",
			 po_strerror(status));
		return status;
	}
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	return status;
}
