/* version.c - the library's version, for bindings to check at load. */
#include "po_private.h"

const char *po_version(void)
{
	return PO_VERSION;
}

unsigned long po_version_num(void)
{
	return PO_VERSION_NUM;
}
