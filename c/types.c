/* types.c - content type from a file name's extension.
 *
 * The table holds every extension of Allegro CL's mime-api.cl table (an
 * old Apache mime.types subset; where an extension appeared twice the
 * later entry won there, so "rtf" is text/rtf) and modern types Allegro
 * lacks (csv, json, svg, Office Open XML, webp, mp4, ics, ...).  It is
 * sorted by extension for a binary search; extensions are lower case.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "po_private.h"

static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{"3gp", "video/3gpp"},
	{"7z", "application/x-7z-compressed"},
	{"aac", "audio/aac"},
	{"ai", "application/postscript"},
	{"aif", "audio/x-aiff"},
	{"aifc", "audio/x-aiff"},
	{"aiff", "audio/x-aiff"},
	{"apk", "application/vnd.android.package-archive"},
	{"asc", "text/plain"},
	{"au", "audio/basic"},
	{"avi", "video/x-msvideo"},
	{"avif", "image/avif"},
	{"bcpio", "application/x-bcpio"},
	{"bin", "application/octet-stream"},
	{"bmp", "image/bmp"},
	{"bz2", "application/x-bzip2"},
	{"c", "text/plain"},
	{"cdf", "application/x-netcdf"},
	{"chrt", "application/x-kchart"},
	{"class", "application/octet-stream"},
	{"cpio", "application/x-cpio"},
	{"cpt", "application/mac-compactpro"},
	{"crt", "application/x-x509-ca-cert"},
	{"csh", "application/x-csh"},
	{"css", "text/css"},
	{"csv", "text/csv"},
	{"dcr", "application/x-director"},
	{"deb", "application/vnd.debian.binary-package"},
	{"der", "application/x-x509-ca-cert"},
	{"diff", "text/x-diff"},
	{"dir", "application/x-director"},
	{"djv", "image/vnd.djvu"},
	{"djvu", "image/vnd.djvu"},
	{"dll", "application/octet-stream"},
	{"dmg", "application/x-apple-diskimage"},
	{"dms", "application/octet-stream"},
	{"doc", "application/msword"},
	{"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
	{"dvi", "application/x-dvi"},
	{"dxr", "application/x-director"},
	{"eml", "message/rfc822"},
	{"eps", "application/postscript"},
	{"epub", "application/epub+zip"},
	{"etx", "text/x-setext"},
	{"exe", "application/octet-stream"},
	{"ez", "application/andrew-inset"},
	{"flac", "audio/flac"},
	{"gif", "image/gif"},
	{"gpx", "application/gpx+xml"},
	{"gtar", "application/x-gtar"},
	{"gz", "application/x-gzip"},
	{"h", "text/plain"},
	{"hdf", "application/x-hdf"},
	{"heic", "image/heic"},
	{"heif", "image/heif"},
	{"hqx", "application/mac-binhex40"},
	{"htm", "text/html"},
	{"html", "text/html"},
	{"ice", "x-conference/x-cooltalk"},
	{"ico", "image/vnd.microsoft.icon"},
	{"ics", "text/calendar"},
	{"ief", "image/ief"},
	{"ifb", "text/calendar"},
	{"iges", "model/iges"},
	{"igs", "model/iges"},
	{"img", "application/octet-stream"},
	{"iso", "application/octet-stream"},
	{"jar", "application/java-archive"},
	{"java", "text/plain"},
	{"jfif", "image/jpeg"},
	{"jpe", "image/jpeg"},
	{"jpeg", "image/jpeg"},
	{"jpg", "image/jpeg"},
	{"js", "application/x-javascript"},
	{"json", "application/json"},
	{"jsonld", "application/ld+json"},
	{"kar", "audio/midi"},
	{"kil", "application/x-killustrator"},
	{"kml", "application/vnd.google-earth.kml+xml"},
	{"kpr", "application/x-kpresenter"},
	{"kpt", "application/x-kpresenter"},
	{"ksp", "application/x-kspread"},
	{"kwd", "application/x-kword"},
	{"kwt", "application/x-kword"},
	{"latex", "application/x-latex"},
	{"lha", "application/octet-stream"},
	{"lisp", "text/plain"},
	{"log", "text/plain"},
	{"lzh", "application/octet-stream"},
	{"m3u", "audio/x-mpegurl"},
	{"m3u8", "application/vnd.apple.mpegurl"},
	{"m4a", "audio/mp4"},
	{"m4v", "video/mp4"},
	{"man", "application/x-troff-man"},
	{"markdown", "text/markdown"},
	{"md", "text/markdown"},
	{"me", "application/x-troff-me"},
	{"mesh", "model/mesh"},
	{"mid", "audio/midi"},
	{"midi", "audio/midi"},
	{"mif", "application/vnd.mif"},
	{"mjs", "text/javascript"},
	{"mkv", "video/x-matroska"},
	{"mobi", "application/x-mobipocket-ebook"},
	{"mov", "video/quicktime"},
	{"movie", "video/x-sgi-movie"},
	{"mp2", "audio/mpeg"},
	{"mp3", "audio/mpeg"},
	{"mp4", "video/mp4"},
	{"mpe", "video/mpeg"},
	{"mpeg", "video/mpeg"},
	{"mpg", "video/mpeg"},
	{"mpga", "audio/mpeg"},
	{"ms", "application/x-troff-ms"},
	{"msg", "application/vnd.ms-outlook"},
	{"msh", "model/mesh"},
	{"mxu", "video/vnd.mpegurl"},
	{"nc", "application/x-netcdf"},
	{"odg", "application/vnd.oasis.opendocument.graphics"},
	{"odp", "application/vnd.oasis.opendocument.presentation"},
	{"ods", "application/vnd.oasis.opendocument.spreadsheet"},
	{"odt", "application/vnd.oasis.opendocument.text"},
	{"oga", "audio/ogg"},
	{"ogg", "application/ogg"},
	{"ogv", "video/ogg"},
	{"opus", "audio/ogg"},
	{"otf", "font/otf"},
	{"p7m", "application/pkcs7-mime"},
	{"p7s", "application/pkcs7-signature"},
	{"patch", "text/x-diff"},
	{"pbm", "image/x-portable-bitmap"},
	{"pdb", "chemical/x-pdb"},
	{"pdf", "application/pdf"},
	{"pem", "application/x-pem-file"},
	{"pgm", "image/x-portable-graymap"},
	{"pgn", "application/x-chess-pgn"},
	{"png", "image/png"},
	{"pnm", "image/x-portable-anymap"},
	{"ppm", "image/x-portable-pixmap"},
	{"ppt", "application/vnd.ms-powerpoint"},
	{"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
	{"ps", "application/postscript"},
	{"py", "text/x-python"},
	{"qt", "video/quicktime"},
	{"ra", "audio/x-realaudio"},
	{"ram", "audio/x-pn-realaudio"},
	{"rar", "application/vnd.rar"},
	{"ras", "image/x-cmu-raster"},
	{"rgb", "image/x-rgb"},
	{"rm", "audio/x-pn-realaudio"},
	{"roff", "application/x-troff"},
	{"rpm", "application/x-rpm"},
	{"rtf", "text/rtf"},
	{"rtx", "text/richtext"},
	{"sgm", "text/sgml"},
	{"sgml", "text/sgml"},
	{"sh", "application/x-sh"},
	{"shar", "application/x-shar"},
	{"silo", "model/mesh"},
	{"sit", "application/x-stuffit"},
	{"skd", "application/x-koan"},
	{"skm", "application/x-koan"},
	{"skp", "application/x-koan"},
	{"skt", "application/x-koan"},
	{"smi", "application/smil"},
	{"smil", "application/smil"},
	{"snd", "audio/basic"},
	{"so", "application/octet-stream"},
	{"spl", "application/x-futuresplash"},
	{"sql", "application/sql"},
	{"src", "application/x-wais-source"},
	{"stc", "application/vnd.sun.xml.calc.template"},
	{"std", "application/vnd.sun.xml.draw.template"},
	{"sti", "application/vnd.sun.xml.impress.template"},
	{"stw", "application/vnd.sun.xml.writer.template"},
	{"sv4cpio", "application/x-sv4cpio"},
	{"sv4crc", "application/x-sv4crc"},
	{"svg", "image/svg+xml"},
	{"svgz", "image/svg+xml"},
	{"swf", "application/x-shockwave-flash"},
	{"sxc", "application/vnd.sun.xml.calc"},
	{"sxd", "application/vnd.sun.xml.draw"},
	{"sxg", "application/vnd.sun.xml.writer.global"},
	{"sxi", "application/vnd.sun.xml.impress"},
	{"sxm", "application/vnd.sun.xml.math"},
	{"sxw", "application/vnd.sun.xml.writer"},
	{"t", "application/x-troff"},
	{"tar", "application/x-tar"},
	{"tcl", "application/x-tcl"},
	{"tex", "application/x-tex"},
	{"texi", "application/x-texinfo"},
	{"texinfo", "application/x-texinfo"},
	{"tgz", "application/x-gzip"},
	{"tif", "image/tiff"},
	{"tiff", "image/tiff"},
	{"toml", "application/toml"},
	{"torrent", "application/x-bittorrent"},
	{"tr", "application/x-troff"},
	{"tsv", "text/tab-separated-values"},
	{"ttf", "font/ttf"},
	{"txt", "text/plain"},
	{"ustar", "application/x-ustar"},
	{"vcard", "text/vcard"},
	{"vcd", "application/x-cdlink"},
	{"vcf", "text/vcard"},
	{"vrml", "model/vrml"},
	{"wasm", "application/wasm"},
	{"wav", "audio/x-wav"},
	{"wbmp", "image/vnd.wap.wbmp"},
	{"wbxml", "application/vnd.wap.wbxml"},
	{"weba", "audio/webm"},
	{"webm", "video/webm"},
	{"webp", "image/webp"},
	{"wml", "text/vnd.wap.wml"},
	{"wmlc", "application/vnd.wap.wmlc"},
	{"wmls", "text/vnd.wap.wmlscript"},
	{"wmlsc", "application/vnd.wap.wmlscriptc"},
	{"woff", "font/woff"},
	{"woff2", "font/woff2"},
	{"wrl", "model/vrml"},
	{"xbm", "image/x-xbitmap"},
	{"xht", "application/xhtml+xml"},
	{"xhtml", "application/xhtml+xml"},
	{"xls", "application/vnd.ms-excel"},
	{"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
	{"xml", "text/xml"},
	{"xpm", "image/x-xpixmap"},
	{"xsl", "text/xml"},
	{"xwd", "image/x-xwindowdump"},
	{"xyz", "chemical/x-xyz"},
	{"xz", "application/x-xz"},
	{"yaml", "application/yaml"},
	{"yml", "application/yaml"},
	{"zip", "application/zip"},
	{"zst", "application/zstd"},
};

#define OCTET_STREAM "application/octet-stream"

static const char *lookup(const char *ext)
{
	size_t lo = 0, hi = sizeof types / sizeof types[0];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcasecmp(ext, types[mid].ext);

		if (c == 0)
			return types[mid].type;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Allegro's rule: the extension is what follows the last '.' of the last
 * path component, unless that dot is its first or last character
 * (".bashrc" has none, "x.tar.gz" has "gz"); a path ending in '/' has
 * none. */
const char *po_mime_type_for_name(const char *filename)
{
	const char *base, *dot;
	const char *type;

	if (!filename)
		return OCTET_STREAM;
	base = strrchr(filename, '/');
	base = base ? base + 1 : filename;
	dot = strrchr(base, '.');
	if (!dot || dot == base || dot[1] == '\0')
		return OCTET_STREAM;
	type = lookup(dot + 1);
	return type ? type : OCTET_STREAM;
}
