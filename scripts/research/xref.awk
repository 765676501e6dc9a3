# usage: awk -v pat=REGEX -f xref.awk file.dis  -> count of matching insns per enclosing function
/^[0-9a-f]+ <.*>:$/ { fn=$2 }
$0 ~ pat { c[fn]++ }
END { for (f in c) print c[f], f }
