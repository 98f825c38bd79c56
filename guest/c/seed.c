// The seed server's logic, as guest/python/seed.py has it, in C: the same answer to
// every request, from a component of about 200 KB instead of 19 MB of CPython.
//
// Like the seed it answers 200 with a file under the root, 404 with the root's
// `404.html`, and 403 `ForForForbid` to a short User-Agent (the operator's
// `--min-user-agent-len`). Like seed.py it parses the whole head, sends no body for
// HEAD, states Content-Length and Date in every answer, takes the Content-Type from
// the file name (Python's built-in `mimetypes` table), keeps `..` inside the root,
// refuses dotfiles with 403 (the root's `403.html` if any) unless `serve_dotfiles`,
// answers other methods 405, and lets the host stream file bodies (`file` ranges).
//
// Memory follows the bindings' rules (guest/c/gen/sandserve.h): `handle` owns its
// arguments and frees them; everything it returns is malloc'ed, because the bindings'
// post-return frees it with free().

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandserve.h"

typedef sandserve_server_types_body_t body_t;
typedef sandserve_server_types_policy_t policy_t;

static const char FORBID[] = "ForForForbid";

// Text that grows; a failed allocation aborts, which the host turns into a 500, as a
// MemoryError in the Python seed would.
typedef struct {
  char *ptr;
  size_t len, cap;
} text_t;

static void text_add(text_t *t, const char *s, size_t n) {
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 64;
    while (cap < t->len + n + 1) cap *= 2;
    t->ptr = realloc(t->ptr, cap);
    if (!t->ptr) abort();
    t->cap = cap;
  }
  memcpy(t->ptr + t->len, s, n);
  t->len += n;
  t->ptr[t->len] = '\0';  // so that a text is also a C string
}

static void text_cat(text_t *t, const char *s) { text_add(t, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void text_printf(text_t *t, const char *format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(line, sizeof line, format, args);
  va_end(args);
  if (n < 0 || (size_t)n >= sizeof line) abort();
  text_add(t, line, (size_t)n);
}

// A heap copy of `n` bytes: what the bindings free after the answer has crossed.
static uint8_t *copy(const void *s, size_t n) {
  uint8_t *p = malloc(n ? n : 1);
  if (!p) abort();
  memcpy(p, s, n);
  return p;
}

static char *dup(const char *s) { return (char *)copy(s, strlen(s) + 1); }

static char *concat(const char *a, const char *b) {
  text_t t = {0};
  text_cat(&t, a);
  text_cat(&t, b);
  return t.ptr;
}

// --- The request ---------------------------------------------------------------

typedef struct {
  const uint8_t *ptr;
  size_t len;
} slice_t;

static bool slice_is(slice_t s, const char *text) {
  return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0;
}

static bool is_name(slice_t s, const char *lower) {
  if (s.len != strlen(lower)) return false;
  for (size_t i = 0; i < s.len; i++) {
    uint8_t c = s.ptr[i];
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
    if (c != (uint8_t)lower[i]) return false;
  }
  return true;
}

typedef struct {
  slice_t method, target;
  // The last User-Agent, as the seed's dict keeps it; empty when there is none.
  slice_t user_agent;
} head_t;

// Method, target and User-Agent of a head the host already checked: its request line
// is `method SP target SP version` and its lines end in LF, after an optional CR.
static head_t parse(sandserve_list_u8_t raw) {
  head_t head = {0};
  const uint8_t *p = raw.ptr, *end = raw.ptr + raw.len;
  bool first = true;
  while (p < end) {
    const uint8_t *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    const uint8_t *stop = eol;
    while (stop > p && stop[-1] == '\r') stop--;
    if (first) {
      const uint8_t *sp1 = memchr(p, ' ', (size_t)(stop - p));
      const uint8_t *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(stop - sp1 - 1)) : NULL;
      if (!sp2) abort();  // the host never sends such a head
      head.method = (slice_t){p, (size_t)(sp1 - p)};
      head.target = (slice_t){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
      first = false;
    } else {
      const uint8_t *colon = memchr(p, ':', (size_t)(stop - p));
      if (colon && is_name((slice_t){p, (size_t)(colon - p)}, "user-agent")) {
        const uint8_t *v = colon + 1, *w = stop;
        while (v < w && (*v == ' ' || *v == '\t')) v++;
        while (w > v && (w[-1] == ' ' || w[-1] == '\t')) w--;
        head.user_agent = (slice_t){v, (size_t)(w - v)};
      }
    }
    if (eol == end) break;
    p = eol + 1;
  }
  return head;
}

static int hex(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Valid UTF-8 of `s`, each maximal ill-formed subsequence replaced by U+FFFD: what
// Python's `unquote` (errors="replace") makes of decoded bytes. The root's paths are
// WIT strings, which must be UTF-8.
static void add_utf8(text_t *out, const uint8_t *s, size_t n) {
  static const char REPLACEMENT[] = "\xEF\xBF\xBD";
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      text_add(out, (const char *)&s[i++], 1);
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;  // no overlong forms
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
    } else {
      text_add(out, REPLACEMENT, 3);
      i++;
      continue;
    }
    size_t j = 1;
    while (j <= need && i + j < n && s[i + j] >= lo && s[i + j] <= hi) {
      j++;
      lo = 0x80, hi = 0xBF;
    }
    if (j == need + 1) text_add(out, (const char *)&s[i], j);
    else text_add(out, REPLACEMENT, 3);
    i += j;
  }
}

// The path below the root a target names (malloc'ed, "" for the root itself), or NULL
// if it names none.
static char *below_root(slice_t target) {
  size_t len = 0;
  while (len < target.len && target.ptr[len] != '?') len++;
  uint8_t *bytes = malloc(len + 1);
  if (!bytes) abort();
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (target.ptr[i] == '%' && i + 2 < len && hex(target.ptr[i + 1]) >= 0 &&
        hex(target.ptr[i + 2]) >= 0) {
      bytes[n++] = (uint8_t)(hex(target.ptr[i + 1]) * 16 + hex(target.ptr[i + 2]));
      i += 2;
    } else {
      bytes[n++] = target.ptr[i];
    }
  }
  text_t path = {0};
  text_cat(&path, "");  // allocated, even for an empty path
  add_utf8(&path, bytes, n);
  free(bytes);
  // An absolute-form target, and a decoded NUL or backslash, name nothing below the
  // root; the seed joined the raw path to its directory, so /../../etc/passwd walked
  // out: any `..` segment names nothing either.
  bool refused = path.ptr[0] != '/' || strlen(path.ptr) != path.len || strchr(path.ptr, '\\');
  text_t rel = {0};
  text_cat(&rel, "");
  for (char *segment = path.ptr; !refused && segment;) {
    char *slash = strchr(segment, '/');
    size_t k = slash ? (size_t)(slash - segment) : strlen(segment);
    if (k == 2 && memcmp(segment, "..", 2) == 0) refused = true;
    // posixpath.normpath: empty and `.` segments go.
    else if (k > 0 && !(k == 1 && segment[0] == '.')) {
      if (rel.len) text_add(&rel, "/", 1);
      text_add(&rel, segment, k);
    }
    segment = slash ? slash + 1 : NULL;
  }
  free(path.ptr);
  if (refused) {
    free(rel.ptr);
    return NULL;
  }
  return rel.ptr;
}

// Whether a path below the root has a segment that starts with `.`.
static bool dotfile(const char *rel) {
  if (rel[0] == '.') return true;
  return strstr(rel, "/.") != NULL;
}

// --- The root --------------------------------------------------------------------

// What `rel` is, and its size; false when the root has nothing there.
static bool stat_of(const char *rel, sandserve_server_root_kind_t *kind, uint64_t *size) {
  sandserve_string_t path;
  sandserve_string_set(&path, rel);  // borrowed: the call does not keep it
  sandserve_server_root_metadata_t meta;
  sandserve_server_root_error_t err;
  if (!sandserve_server_root_stat(&path, &meta, &err)) return false;
  *kind = meta.kind;
  *size = meta.size;
  // The result is the caller's (nothing in it is on the heap today, but the bindings
  // would free what a later WIT adds).
  sandserve_server_root_metadata_free(&meta);
  return true;
}

// The regular file `rel` names (a directory's index.html): its path, malloc'ed, and
// its size; NULL when there is none.
static char *file_of(const char *rel, uint64_t *size) {
  sandserve_server_root_kind_t kind;
  if (!stat_of(rel, &kind, size)) return NULL;
  char *path;
  if (kind == SANDSERVE_SERVER_ROOT_KIND_DIRECTORY) {
    path = rel[0] ? concat(rel, "/index.html") : dup("index.html");
    if (!stat_of(path, &kind, size)) {
      free(path);
      return NULL;
    }
  } else {
    path = dup(rel);
  }
  if (kind != SANDSERVE_SERVER_ROOT_KIND_FILE) {
    free(path);
    return NULL;
  }
  return path;
}

// --- Content types: Python's mimetypes, its built-in table only ----------------

// Python 3.14's `mimetypes.types_map` (the CPython componentize-py embeds) with no
// mime.types file read (seed.py's `init(files=[])`): strict types only, as
// `guess_type` uses by default. (Checked against seed-python.wasm, file by file.)
static const char *const TYPES[][2] = {
    {".js", "text/javascript"}, {".mjs", "text/javascript"}, {".epub", "application/epub+zip"},
    {".gz", "application/gzip"}, {".json", "application/json"},
    {".webmanifest", "application/manifest+json"}, {".doc", "application/msword"},
    {".dot", "application/msword"}, {".wiz", "application/msword"},
    {".nq", "application/n-quads"}, {".nt", "application/n-triples"},
    {".bin", "application/octet-stream"}, {".a", "application/octet-stream"},
    {".dll", "application/octet-stream"}, {".exe", "application/octet-stream"},
    {".o", "application/octet-stream"}, {".obj", "application/octet-stream"},
    {".so", "application/octet-stream"}, {".oda", "application/oda"}, {".ogx", "application/ogg"},
    {".pdf", "application/pdf"}, {".p7c", "application/pkcs7-mime"},
    {".ps", "application/postscript"}, {".ai", "application/postscript"},
    {".eps", "application/postscript"}, {".texi", "application/x-texinfo"},
    {".texinfo", "application/x-texinfo"},
    {".trig", "application/trig"}, {".m3u", "application/vnd.apple.mpegurl"},
    {".m3u8", "application/vnd.apple.mpegurl"}, {".xls", "application/vnd.ms-excel"},
    {".xlb", "application/vnd.ms-excel"}, {".eot", "application/vnd.ms-fontobject"},
    {".ppt", "application/vnd.ms-powerpoint"}, {".pot", "application/vnd.ms-powerpoint"},
    {".ppa", "application/vnd.ms-powerpoint"}, {".pps", "application/vnd.ms-powerpoint"},
    {".pwz", "application/vnd.ms-powerpoint"},
    {".odg", "application/vnd.oasis.opendocument.graphics"},
    {".odp", "application/vnd.oasis.opendocument.presentation"},
    {".ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {".odt", "application/vnd.oasis.opendocument.text"},
    {".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {".rar", "application/vnd.rar"}, {".wasm", "application/wasm"},
    {".7z", "application/x-7z-compressed"}, {".bcpio", "application/x-bcpio"},
    {".cpio", "application/x-cpio"}, {".csh", "application/x-csh"},
    {".deb", "application/x-debian-package"}, {".dvi", "application/x-dvi"},
    {".gtar", "application/x-gtar"}, {".hdf", "application/x-hdf"}, {".h5", "application/x-hdf5"},
    {".latex", "application/x-latex"}, {".mif", "application/x-mif"},
    {".cdf", "application/x-netcdf"}, {".nc", "application/x-netcdf"},
    {".p12", "application/x-pkcs12"}, {".php", "application/x-httpd-php"},
    {".pfx", "application/x-pkcs12"}, {".ram", "application/x-pn-realaudio"},
    {".pyc", "application/x-python-code"}, {".pyo", "application/x-python-code"},
    {".rpm", "application/x-rpm"}, {".sh", "application/x-sh"}, {".shar", "application/x-shar"},
    {".swf", "application/x-shockwave-flash"}, {".sv4cpio", "application/x-sv4cpio"},
    {".sv4crc", "application/x-sv4crc"}, {".tar", "application/x-tar"},
    {".tcl", "application/x-tcl"}, {".tex", "application/x-tex"},
    {".roff", "application/x-troff"}, {".t", "application/x-troff"},
    {".tr", "application/x-troff"}, {".man", "application/x-troff-man"},
    {".me", "application/x-troff-me"}, {".ms", "application/x-troff-ms"},
    {".ustar", "application/x-ustar"}, {".src", "application/x-wais-source"},
    {".xsl", "application/xml"}, {".rdf", "application/xml"}, {".wsdl", "application/xml"},
    {".xpdl", "application/xml"}, {".yaml", "application/yaml"}, {".yml", "application/yaml"},
    {".zip", "application/zip"}, {".3gp", "audio/3gpp"}, {".3gpp", "audio/3gpp"},
    {".3g2", "audio/3gpp2"}, {".3gpp2", "audio/3gpp2"}, {".aac", "audio/aac"},
    {".adts", "audio/aac"}, {".loas", "audio/aac"}, {".ass", "audio/aac"},
    {".au", "audio/basic"}, {".snd", "audio/basic"}, {".flac", "audio/flac"},
    {".mka", "audio/matroska"}, {".m4a", "audio/mp4"}, {".mp3", "audio/mpeg"},
    {".mp2", "audio/mpeg"}, {".ogg", "audio/ogg"}, {".opus", "audio/opus"},
    {".aif", "audio/x-aiff"}, {".aifc", "audio/x-aiff"}, {".aiff", "audio/x-aiff"},
    {".ra", "audio/x-pn-realaudio"}, {".wav", "audio/vnd.wave"}, {".weba", "audio/webm"},
    {".otf", "font/otf"}, {".ttf", "font/ttf"}, {".woff", "font/woff"}, {".woff2", "font/woff2"},
    {".avif", "image/avif"}, {".bmp", "image/bmp"}, {".emf", "image/emf"},
    {".fits", "image/fits"}, {".g3", "image/g3fax"}, {".gif", "image/gif"},
    {".ief", "image/ief"}, {".jp2", "image/jp2"}, {".jpg", "image/jpeg"},
    {".jpe", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".jpm", "image/jpm"},
    {".jpx", "image/jpx"}, {".heic", "image/heic"}, {".heif", "image/heif"},
    {".png", "image/png"}, {".svg", "image/svg+xml"}, {".t38", "image/t38"},
    {".tiff", "image/tiff"}, {".tif", "image/tiff"}, {".tfx", "image/tiff-fx"},
    {".ico", "image/vnd.microsoft.icon"}, {".webp", "image/webp"}, {".wmf", "image/wmf"},
    {".ras", "image/x-cmu-raster"}, {".pnm", "image/x-portable-anymap"},
    {".pbm", "image/x-portable-bitmap"}, {".pgm", "image/x-portable-graymap"},
    {".ppm", "image/x-portable-pixmap"}, {".rgb", "image/x-rgb"},
    {".xbm", "image/x-xbitmap"}, {".xpm", "image/x-xpixmap"},
    {".xwd", "image/x-xwindowdump"}, {".eml", "message/rfc822"}, {".mht", "message/rfc822"},
    {".mhtml", "message/rfc822"}, {".nws", "message/rfc822"}, {".gltf", "model/gltf+json"},
    {".glb", "model/gltf-binary"}, {".stl", "model/stl"}, {".css", "text/css"},
    {".csv", "text/csv"}, {".html", "text/html"}, {".htm", "text/html"},
    {".md", "text/markdown"}, {".markdown", "text/markdown"}, {".n3", "text/n3"},
    {".txt", "text/plain"}, {".bat", "text/plain"}, {".c", "text/plain"}, {".h", "text/plain"},
    {".ksh", "text/plain"}, {".pl", "text/plain"}, {".srt", "text/plain"},
    {".rtx", "text/richtext"}, {".rtf", "text/rtf"}, {".tsv", "text/tab-separated-values"},
    {".vtt", "text/vtt"}, {".py", "text/x-python"}, {".rst", "text/x-rst"},
    {".etx", "text/x-setext"}, {".sgm", "text/x-sgml"}, {".sgml", "text/x-sgml"},
    {".vcf", "text/x-vcard"}, {".xml", "text/xml"}, {".mkv", "video/matroska"},
    {".mk3d", "video/matroska-3d"}, {".mp4", "video/mp4"}, {".mpeg", "video/mpeg"},
    {".m1v", "video/mpeg"}, {".mpa", "video/mpeg"}, {".mpe", "video/mpeg"},
    {".mpg", "video/mpeg"}, {".ogv", "video/ogg"}, {".mov", "video/quicktime"},
    {".qt", "video/quicktime"}, {".webm", "video/webm"}, {".avi", "video/vnd.avi"},
    {".m4v", "video/x-m4v"}, {".wmv", "video/x-ms-wmv"}, {".movie", "video/x-sgi-movie"},
};

// Suffixes that stand for two (`mimetypes.suffix_map`), matched lower-cased.
static const char *const SUFFIXES[][2] = {
    {".svgz", ".svg.gz"}, {".tgz", ".tar.gz"},   {".taz", ".tar.gz"},
    {".tz", ".tar.gz"},   {".tbz2", ".tar.bz2"}, {".txz", ".tar.xz"},
};

// Compression suffixes (`mimetypes.encodings_map`), matched as they are spelled: the
// type is the one of the suffix before.
static const char *const ENCODINGS[] = {".gz", ".Z", ".bz2", ".xz", ".br"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

// Where the extension of `path` starts (posixpath.splitext: the last `.` of the last
// segment, unless only dots precede it there), or its end when it has none.
static size_t extension_at(const char *path, size_t len) {
  size_t name = len;
  while (name > 0 && path[name - 1] != '/') name--;
  size_t dot = len;
  while (dot > name && path[dot - 1] != '.') dot--;
  if (dot == name) return len;  // no dot in the last segment
  dot--;
  for (size_t i = name; i < dot; i++)
    if (path[i] != '.') return dot;
  return len;
}

static bool lower_is(const char *s, size_t n, const char *lower) {
  return is_name((slice_t){(const uint8_t *)s, n}, lower);
}

// The type `_guess_file_type` gives the path `p[0..len)` by its extension, or NULL.
static const char *type_of_path(const char *p, size_t len) {
  text_t path = {0};
  text_add(&path, p, len);
  size_t base = path.len, ext = extension_at(path.ptr, path.len);
  for (bool again = true; again;) {
    again = false;
    for (size_t i = 0; i < COUNT(SUFFIXES); i++) {
      if (lower_is(path.ptr + ext, base - ext, SUFFIXES[i][0])) {
        path.len = ext;
        text_cat(&path, SUFFIXES[i][1]);
        base = path.len;
        ext = extension_at(path.ptr, base);
        again = true;
        break;
      }
    }
  }
  for (size_t i = 0; i < COUNT(ENCODINGS); i++) {
    if (base - ext == strlen(ENCODINGS[i]) && memcmp(path.ptr + ext, ENCODINGS[i], base - ext) == 0) {
      base = ext;
      ext = extension_at(path.ptr, base);
      break;
    }
  }
  const char *type = NULL;
  for (size_t i = 0; i < COUNT(TYPES) && !type; i++)
    if (lower_is(path.ptr + ext, base - ext, TYPES[i][0])) type = TYPES[i][1];
  free(path.ptr);
  return type;
}

// Schemes whose last path segment may carry `;params` (urllib.parse.uses_params).
static const char *const USES_PARAMS[] = {"ftp",   "hdl",   "prospero", "http", "imap", "https",
                                          "shttp", "rtsp",  "rtsps",    "rtspu", "sip", "sips",
                                          "mms",   "sftp",  "tel"};

static bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Python's `mimetypes.guess_type(rel)[0]` added to `kind`, which stays empty when there
// is none. guess_type reads its argument as a URL (urllib.parse.urlparse), so seed.py
// types a name with a scheme, `ab:c.txt`, by its URL path, and `data:text,x.html` as
// the data URL it would be (text/plain); so does this.
static void guess_type(const char *rel, text_t *kind) {
  // urlsplit drops leading C0 controls and spaces, and tabs and newlines anywhere.
  text_t url = {0};
  text_cat(&url, "");
  const char *s = rel;
  while (*s && (unsigned char)*s <= ' ') s++;
  for (; *s; s++)
    if (*s != '\t' && *s != '\r' && *s != '\n') text_add(&url, s, 1);
  const char *colon = strchr(url.ptr, ':');
  size_t scheme = colon ? (size_t)(colon - url.ptr) : 0;
  // A scheme of one letter is not one for guess_type (a drive letter, say).
  bool has_scheme = scheme > 1 && is_ascii_alpha(url.ptr[0]);
  for (size_t i = 0; has_scheme && i < scheme; i++) {
    char c = url.ptr[i];
    has_scheme = is_ascii_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
  }
  const char *type = NULL;
  if (!has_scheme) {
    type = type_of_path(rel, strlen(rel));
  } else {
    const char *path = url.ptr + scheme + 1;
    if (path[0] == '/' && path[1] == '/') path += 2 + strcspn(path + 2, "/?#");  // netloc
    size_t len = strcspn(path, "#");
    len = strcspn(path, "?") < len ? strcspn(path, "?") : len;
    bool params = false;
    for (size_t i = 0; i < COUNT(USES_PARAMS); i++)
      params = params || lower_is(url.ptr, scheme, USES_PARAMS[i]);
    if (params) {
      size_t last = len;
      while (last > 0 && path[last - 1] != '/') last--;
      const char *semi = memchr(path + last, ';', len - last);
      if (semi) len = (size_t)(semi - path);
    }
    if (lower_is(url.ptr, scheme, "data")) {
      // data:[type/subtype][;param][;base64],data — text/plain when no type is given.
      const char *comma = memchr(path, ',', len);
      if (comma) {
        size_t end = (size_t)(comma - path);
        const char *semi = memchr(path, ';', end);
        if (semi) end = (size_t)(semi - path);
        if (memchr(path, '=', end) || !memchr(path, '/', end)) text_cat(kind, "text/plain");
        else text_add(kind, path, end);
      }
    } else {
      type = type_of_path(path, len);
    }
  }
  if (type) text_cat(kind, type);
  free(url.ptr);
}

// --- Answers -------------------------------------------------------------------

// Header fields (each line ending in CRLF) and the body they describe.
typedef struct {
  text_t fields;
  body_t body;
} part_t;

static part_t sent_file(char *rel, uint64_t size) {
  part_t part = {0};
  text_t kind = {0};
  text_cat(&kind, "");
  guess_type(rel, &kind);
  if (!kind.len) text_cat(&kind, "application/octet-stream");
  bool charset = strncmp(kind.ptr, "text/", 5) == 0 ||
                 strcmp(kind.ptr, "application/javascript") == 0 ||
                 strcmp(kind.ptr, "application/json") == 0;
  // A type a data-URL name states may be long: added, not printed into a line.
  text_cat(&part.fields, "Content-Type: ");
  text_add(&part.fields, kind.ptr, kind.len);
  text_cat(&part.fields, charset ? "; charset=utf-8\r\n" : "\r\n");
  free(kind.ptr);
  text_printf(&part.fields, "Content-Length: %llu\r\n", (unsigned long long)size);
  part.body.tag = SANDSERVE_SERVER_TYPES_BODY_FILE;
  // The host streams the file itself: its bytes never enter the handler. `rel` is
  // handed over; the bindings free it.
  part.body.val.file = (sandserve_server_types_file_range_t){
      .path = {(uint8_t *)rel, strlen(rel)}, .offset = 0, .length = size, .coding = {.is_some = false}};
  return part;
}

static part_t bytes_part(const char *type, const char *text) {
  part_t part = {0};
  size_t n = strlen(text);
  text_printf(&part.fields, "Content-Type: %s\r\nContent-Length: %zu\r\n", type, n);
  part.body.tag = SANDSERVE_SERVER_TYPES_BODY_BYTES;
  part.body.val.bytes = (sandserve_list_u8_t){copy(text, n), n};
  return part;
}

// The root's page `name` if it has one, else `text`.
static part_t error_page(const char *name, const char *text) {
  uint64_t size;
  char *page = file_of(name, &size);
  if (page) return sent_file(page, size);
  return bytes_part("text/plain; charset=utf-8", text);
}

// `Mon, 20 Nov 1995 19:12:08 GMT`, as Python's formatdate(seconds, usegmt=True).
static void add_date(text_t *t, uint64_t seconds) {
  static const char *const DAYS[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  uint64_t days = seconds / 86400, secs = seconds % 86400;
  // Days since 1970 to a civil date (Howard Hinnant's `civil_from_days`); unsigned
  // throughout, with 0000-03-01 as the origin, since no time here is before 1970.
  uint64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
  uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  uint64_t day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
  uint64_t year = yoe + era * 400 + (month <= 2);
  text_printf(t, "Date: %s, %02llu %s %04llu %02llu:%02llu:%02llu GMT\r\n", DAYS[days % 7],
              (unsigned long long)day, MONTHS[month - 1], (unsigned long long)year,
              (unsigned long long)(secs / 3600), (unsigned long long)(secs / 60 % 60),
              (unsigned long long)(secs % 60));
}

static sandserve_server_types_response_t answer(const char *status, part_t part, bool head_only,
                                                const policy_t *policy, uint64_t received) {
  text_t head = {0};
  text_printf(&head, "HTTP/1.1 %s\r\n", status);
  add_date(&head, received);
  if (policy->server_name.len) {
    text_cat(&head, "Server: ");
    text_add(&head, (const char *)policy->server_name.ptr, policy->server_name.len);
    text_cat(&head, "\r\n");
  }
  if (part.fields.len) text_add(&head, part.fields.ptr, part.fields.len);
  text_cat(&head, "\r\n");
  free(part.fields.ptr);
  if (head_only) {
    sandserve_server_types_body_free(&part.body);
    part.body.tag = SANDSERVE_SERVER_TYPES_BODY_EMPTY;
  }
  // The head's buffer is handed over as it is (its capacity is free()'s business).
  return (sandserve_server_types_response_t){
      .head = {(uint8_t *)head.ptr, head.len}, .body = part.body, .close = false};
}

static sandserve_server_types_response_t respond(const sandserve_server_types_request_t *req) {
  const policy_t *policy = &req->policy;
  uint64_t received = req->received.seconds;
  head_t head = parse(req->head);
  bool head_only = slice_is(head.method, "HEAD");
  if (!slice_is(head.method, "GET") && !head_only) {
    part_t allow = {0};
    text_cat(&allow.fields, "Allow: GET, HEAD\r\nContent-Length: 0\r\n");
    return answer("405 Method Not Allowed", allow, true, policy, received);
  }
  // The seed's bot filter, with the operator's threshold (0: off).
  if (head.user_agent.len < policy->min_user_agent_len) {
    return answer("403 Forbidden", bytes_part("text/html; charset=utf-8", FORBID), head_only,
                  policy, received);
  }
  char *rel = below_root(head.target);
  // The built-in handler's dotfile rule, before the file is looked up: 403 whether
  // it exists or not.
  if (rel && !policy->serve_dotfiles && dotfile(rel)) {
    free(rel);
    return answer("403 Forbidden", error_page("403.html", "Forbidden\n"), head_only, policy,
                  received);
  }
  uint64_t size;
  char *found = rel ? file_of(rel, &size) : NULL;
  free(rel);
  if (found) return answer("200 OK", sent_file(found, size), head_only, policy, received);
  return answer("404 Not Found", error_page("404.html", "Not Found\n"), head_only, policy,
                received);
}

void exports_sandserve_server_handler_handle(exports_sandserve_server_handler_request_t *req,
                                             exports_sandserve_server_handler_list_seen_t *seen,
                                             exports_sandserve_server_handler_answer_t *ret) {
  // `root` is imported and called, so the host makes no looks for this handler: `seen`
  // is always empty, and every answer is a response.
  ret->tag = EXPORTS_SANDSERVE_SERVER_HANDLER_ANSWER_RESPONSE;
  ret->val.response = respond(req);
  // The arguments are ours to free; nothing in the answer points into them.
  exports_sandserve_server_handler_request_free(req);
  exports_sandserve_server_handler_list_seen_free(seen);
}
