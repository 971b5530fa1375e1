# shellcheck shell=bash
# Web servers of the lab (nginx): open (directory listings on, the leaks of
# lab.WebTree: .git, .env, backups, a phpinfo page, a server-status page)
# and secured (the same behind basic authentication). Sourced by
# lab/services.sh.

LAB_NGINX_OPEN=127.0.13.50:80
LAB_NGINX_SECURED=127.0.13.51:8080
LAB_NGINX_USER=webadmin
LAB_NGINX_PASSWORD=lab-secret-nginx

lab_service nginx-open "$LAB_NGINX_OPEN"
lab_service nginx-secured "$LAB_NGINX_SECURED"

nginx_missing() {
	command -v nginx >/dev/null || echo nginx
	command -v curl >/dev/null || echo curl
	command -v openssl >/dev/null || echo openssl
}
nginx_comm() { echo nginx; }

# nginx_ready: / answers 200 (open, a listing) or 401 (secured).
nginx_ready() {
	local code
	code=$(http_code "http://$(svc_addr "$1")/")
	[[ $code == 200 || $code == 401 ]]
}

nginx_seed_script() { labdata_seed_file www.manifest manifest -set www; }

nginx_start() {
	local s=$1 dir conf t
	dir=$(svc_dir "$s")
	# The address in the file name puts it on the command line, where
	# lab/status looks for it.
	conf=$dir/nginx-$(svc_host "$s").conf
	mkdir -p "$dir/www" "$dir/pages"
	for t in body proxy fastcgi uwsgi scgi; do
		mkdir -p "$dir/tmp/$t"
	done
	labdata server-status >"$dir/pages/server-status.html" || lab_die "$s: writing the status page failed"
	cat >"$conf" <<-EOF
		# nginx of the ajar test lab ($s); written by lab/up.
		user root;
		worker_processes 1;
		pid $dir/nginx.pid;
		error_log $dir/error.log warn;
		events {
		    worker_connections 64;
		}
		http {
		    include /etc/nginx/mime.types;
		    default_type application/octet-stream;
		    access_log off;
		    client_body_temp_path $dir/tmp/body;
		    proxy_temp_path $dir/tmp/proxy;
		    fastcgi_temp_path $dir/tmp/fastcgi;
		    uwsgi_temp_path $dir/tmp/uwsgi;
		    scgi_temp_path $dir/tmp/scgi;
		    server {
		        listen $(svc_addr "$s");
		        server_name records.internal.corp;
		        root $dir/www;
		        autoindex on;
		        $(nginx_auth "$s")
		        location = /server-status {
		            default_type text/html;
		            alias $dir/pages/server-status.html;
		        }
		        location = /phpinfo.php {
		            default_type text/html;
		            types { }
		        }
		        location ~ ^/(\.env|\.git/) {
		            default_type text/plain;
		            types { }
		        }
		    }
		}
	EOF
	(cd "$dir" && svc_launch "$s" "$dir/server.log" nginx -p "$dir" -c "$conf" -e "$dir/error.log" -g 'daemon off;')
}

# nginx_auth prints the authentication directives of the secured server
# and writes its password file.
nginx_auth() {
	[[ $(svc_variant "$1") == secured ]] || return 0
	printf '%s:%s\n' "$LAB_NGINX_USER" "$(openssl passwd -apr1 "$LAB_NGINX_PASSWORD")" >"$(svc_dir "$1")/htpasswd"
	echo "auth_basic \"records\"; auth_basic_user_file $(svc_dir "$1")/htpasswd;"
}

nginx_counts() {
	tree_matches "$(svc_dir "$1")/www" "$AJAR_LAB_DIR/seed/www.manifest"
}

nginx_seed() {
	tree_write www "$(svc_dir "$1")/www"
}
