# A module whose file name is not ASCII, for tests/progs/py/codeinfo.py.


def función_ñandú(n):
    total = 0
    for i in range(n):
        total += i
    return total


class Ωmega:
    def méthode(self, x):
        return [x * k for k in range(3)]
