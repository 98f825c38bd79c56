// A sandserve handler in C: files of the root, 404 with the root's 404.html.
//
// Build:  sandserve build          (Debian's clang-19 and wasi-libc, then wasm-tools)
// Try:    sandserve check .        (the conformance suite, and sandserve.toml's requests)
// Live:   sandserve dev --root SITE   (rebuilt, checked and swapped in on every save;
//                                     what printf() writes shows in its log)

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen/sandserve.h"

// Out of memory is a trap, which the host answers with a 500.
static void *need(void *p) {
  if (!p) abort();
  return p;
}

// The size of the regular file `rel` of the root, or -1.
static int64_t found(const char *rel) {
  sandserve_string_t path;
  sandserve_string_set(&path, rel);  // borrowed: the host copies it
  sandserve_server_root_metadata_t meta;
  sandserve_server_root_error_t err;
  if (!sandserve_server_root_stat(&path, &meta, &err)) return -1;
  int64_t size = meta.kind == SANDSERVE_SERVER_ROOT_KIND_FILE ? (int64_t)meta.size : -1;
  sandserve_server_root_metadata_free(&meta);  // the result is ours
  return size;
}

void exports_sandserve_server_handler_handle(exports_sandserve_server_handler_request_t *req,
                                             exports_sandserve_server_handler_list_seen_t *seen,
                                             exports_sandserve_server_handler_answer_t *ret) {
  // `seen`: looks the host made (none for a handler that calls `root`, as this one
  // does); so the answer is always a response.
  // The host has checked the head: `METHOD SP target SP HTTP/1.x`.
  // stdout a line at a time, so that what a printf writes is logged with this request
  // (fully buffered, it would come out during a later one, or never).
  static int line_buffered;
  if (!line_buffered) line_buffered = setvbuf(stdout, NULL, _IOLBF, 0) == 0;
  // The request line as a C string: the head's bytes end with no NUL.
  size_t line_len = 0;
  while (line_len < req->head.len && req->head.ptr[line_len] != '\r') line_len++;
  char *request = need(strndup((const char *)req->head.ptr, line_len));
  char *space = strchr(request, ' ');
  const char *target = space ? space + 1 : "/";
  int head_only = strncmp(request, "HEAD ", 5) == 0;
  char *path = need(strndup(target, strcspn(target, " ?")));
  free(request);

  int dot_dot = 0;  // a `..` segment: the host would refuse the file anyway
  for (const char *s = path; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
    dot_dot |= strncmp(s, "..", 2) == 0 && (s[2] == '/' || s[2] == '\0');
  // The path without its leading slashes; a directory's index.html. Everything the
  // answer holds is malloc'ed: the bindings free it once the host has it.
  const char *start = path + strspn(path, "/");
  char *rel = need(malloc(strlen(start) + sizeof "index.html"));
  strcpy(rel, start);
  if (rel[0] == '\0' || rel[strlen(rel) - 1] == '/') strcat(rel, "index.html");
  free(path);

  const char *status = "200 OK";
  int64_t size = dot_dot ? -1 : found(rel);
  if (size < 0) {
    status = "404 Not Found";
    strcpy(rel, "404.html");
    size = found(rel);
  }
  sandserve_server_types_body_t body;
  if (size < 0) {
    free(rel);
    body.tag = SANDSERVE_SERVER_TYPES_BODY_BYTES;
    size = sizeof "not found\n" - 1;
    body.val.bytes.ptr = need(strdup("not found\n"));
    body.val.bytes.len = (size_t)size;
  } else {
    // The host streams the file itself: its bytes never enter the handler.
    body.tag = SANDSERVE_SERVER_TYPES_BODY_FILE;
    body.val.file = (sandserve_server_types_file_range_t){
        .path = {(uint8_t *)rel, strlen(rel)}, .offset = 0, .length = (uint64_t)size};
  }
  if (head_only) {
    sandserve_server_types_body_free(&body);
    body.tag = SANDSERVE_SERVER_TYPES_BODY_EMPTY;
  }

  char date[40];
  time_t seconds = (time_t)req->received.seconds;
  struct tm tm;
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&seconds, &tm));
  char line[256];  // a head longer than this (fields added later) traps instead
  int n = snprintf(line, sizeof line, "HTTP/1.1 %s\r\nDate: %s\r\nContent-Length: %lld\r\n\r\n",
                   status, date, (long long)size);
  if (n < 0 || n >= (int)sizeof line) abort();
  char *text = need(strdup(line));

  ret->tag = EXPORTS_SANDSERVE_SERVER_HANDLER_ANSWER_RESPONSE;
  ret->val.response = (sandserve_server_types_response_t){
      .head = {(uint8_t *)text, (size_t)n}, .body = body, .close = false};
  // The arguments are ours to free.
  exports_sandserve_server_handler_request_free(req);
  exports_sandserve_server_handler_list_seen_free(seen);
}
