/* SPDX-License-Identifier: MIT */
/*
 * Symbol names as people write them: C++ (Itanium ABI) and Rust (legacy
 * and v0) manglings undone with libiberty's demangler, the one binutils
 * and gdb use; and, for the text report only, C++ names with their
 * template arguments folded away.
 */
#ifndef MEMTRACE_DEMANGLE_H
#define MEMTRACE_DEMANGLE_H

#include <stddef.h>

/*
 * The demangled form of name (with parameter types), as a new string the
 * caller frees, or NULL when name is not a mangled name libiberty knows
 * (a C name, say) or memory ran out. The name may be anything a traced
 * program's symbol table holds: libiberty bounds its recursion.
 */
char *demangle(const char *name);

/*
 * Write name into buf (size bytes, always terminated when size > 0) with
 * each outermost template argument list replaced by "<...>":
 *   std::vector<std::shared_ptr<Order>, std::allocator<...> >::push_back(X&&)
 *   -> std::vector<...>::push_back(X&&)
 * operator<, operator<<, operator<=, operator<=> and operator-> are kept.
 * Returns the length the result needs (snprintf semantics).
 */
size_t short_templates(const char *name, char *buf, size_t size);

#endif /* MEMTRACE_DEMANGLE_H */
