-- Test-only Prosody module shipped with tern's interop tests: pins
-- remote domains to host:port (the test_s2s_routes option, a table of
-- domain = "host:port"), as tern's s2s_route directive does, so that a
-- Prosody started by a test reaches a ternd on loopback without DNS and
-- without /etc/hosts.
--
-- How: Prosody 0.12's mod_s2s builds its connection target with
-- net.resolvers.service.new(to_host, "xmpp-server" or "xmpps-server",
-- ...), from a module table it required once.  This module replaces
-- that table's new() while it is loaded: a pinned domain gets a
-- net.resolvers.basic resolver for the pinned address (plain XMPP with
-- STARTTLS), and no target for direct TLS; any other domain goes to the
-- original resolver.
local service = require "net.resolvers.service";
local basic = require "net.resolvers.basic";

local routes = module:get_option("test_s2s_routes", {});
local original_new = service.new;

local none_mt = { __index = { next = function (_, cb) cb(nil); end } };

service.new = function (hostname, srv, conn_type, extra)
	local target = routes[hostname];
	if not target then
		return original_new(hostname, srv, conn_type, extra);
	end
	if srv == "xmpps-server" then
		return setmetatable({}, none_mt);
	end
	local host, port = target:match("^%[?([^%]]+)%]?:(%d+)$");
	module:log("debug", "s2s to %s pinned to %s port %s", hostname, host, port);
	return basic.new(host, tonumber(port), conn_type, extra);
end

function module.unload()
	service.new = original_new;
end
