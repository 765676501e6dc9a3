// SPDX-License-Identifier: MIT
/*
 * C++ leaks as optimised code makes them, for the symbolizer's tests:
 * templates, std::make_shared, std::map, lambdas and helpers the compiler
 * inlines (built -O2 -g like the other nofp programs). Each leak has a
 * size of its own, so that tests can find it:
 *
 *   Pool<Order>::add             new Order (48 bytes) x5, template member
 *   OrderBook::add -> make_order std::make_shared<Order>, inlined helper,
 *                                into a vector and a map
 *   a lambda, called in main     new char[4001]
 *   a lambda in std::function    new std::string(100, 'x')
 *
 * Usage: leak_cxx [--wait]   (--wait: "ready", then wait for a line before
 * leaking and another after)
 */
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace shop {

struct Order {
	long id;
	char note[40];
};

template <typename T>
struct Pool {
	std::vector<T *> items;
	__attribute__((noinline)) void add(int n)
	{
		for (int i = 0; i < n; i++)
			items.push_back(new T());
	}
};

static inline std::shared_ptr<Order> make_order(long id)
{
	auto o = std::make_shared<Order>();
	o->id = id;
	return o;
}

class OrderBook {
public:
	__attribute__((noinline)) void add(long id)
	{
		orders.push_back(make_order(id));
		byid[id] = make_order(id + 1);
	}
	std::vector<std::shared_ptr<Order>> orders;
	std::map<long, std::shared_ptr<Order>> byid;
};

}

static std::vector<std::function<void()>> *callbacks;
static void *volatile sink;

int main(int argc, char **argv)
{
	/* Never destroyed: their blocks are still live when the process has
	 * exited (a static object's destructor would free them). */
	shop::OrderBook *book = new shop::OrderBook;
	shop::Pool<shop::Order> *pool = new shop::Pool<shop::Order>;
	bool wait = argc > 1 && !strcmp(argv[1], "--wait");
	char line[16];

	if (wait) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	callbacks = new std::vector<std::function<void()>>;
	for (long i = 0; i < 3; i++)
		book->add(i);
	pool->add(5);
	auto lambda = [](int n) { sink = new char[n]; };
	lambda(4001);
	callbacks->push_back([] { sink = new std::string(100, 'x'); });
	(*callbacks)[0]();
	printf("done\n");
	fflush(stdout);
	if (wait && !fgets(line, sizeof(line), stdin))
		return 0;
	return 0;
}
