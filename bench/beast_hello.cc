// beast_hello: the HTTP stack tokend is built on, doing nothing else. Beast's
// own coroutine server shape (one io_context per thread, each with its own
// SO_REUSEPORT acceptor; http::async_read and http::async_write per request)
// answering every request with a fixed {"active":true}. The bench runs it as
// a second introspection baseline: where nginx shows what a server written in
// C around epoll can do, this shows what Boost.Beast itself costs, so the
// ratio to it is what tokend adds on top of its HTTP library.
//
//   beast_hello --port 7000 [--threads N]
#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <memory>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> Serve(tcp::socket socket) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> request;
    auto [read_ec, read_n] = co_await http::async_read(socket, buffer, request, kNoThrow);
    if (read_ec) co_return;
    http::response<http::string_body> response(http::status::ok, request.version());
    response.set(http::field::content_type, "application/json");
    response.body() = R"({"active":true})";
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    auto [write_ec, write_n] = co_await http::async_write(socket, response, kNoThrow);
    if (write_ec || !response.keep_alive()) co_return;
  }
}

asio::awaitable<void> Accept(tcp::acceptor acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (ec) continue;
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(acceptor.get_executor(), Serve(std::move(socket)), asio::detached);
  }
}

tcp::acceptor Listen(asio::io_context& io, const tcp::endpoint& endpoint) {
  tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  const int one = 1;
  ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  return acceptor;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"beast_hello: a fixed JSON answer over Boost.Beast (baseline)"};
  unsigned short port = 0;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  cli.add_option("--port", port, "Loopback port")->required();
  cli.add_option("--threads", threads, "I/O threads")->check(CLI::PositiveNumber);
  CLI11_PARSE(cli, argc, argv);

  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    asio::co_spawn(*contexts.back(), Accept(Listen(*contexts.back(), endpoint)), asio::detached);
  }
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back([&io = *contexts[i]] { io.run(); });
  contexts.front()->run();
  for (std::thread& worker : workers) worker.join();
}
