#!/bin/sh
# Make the certificates the TLS tests use, with the openssl CLI, into DIR:
# nothing committed to the tree can expire.  Idempotent: a DIR already
# complete is left as it is.
#
#   ca.crt ca.key          the test CA
#   ca2.crt                another CA, which signed nothing here
#   server.crt .key        ECDSA P-256, DNS:localhost IP:127.0.0.1 IP:::1
#   server-rsa.crt .key    the same names, RSA 2048
#   expired.crt .key       the same names, valid only in 2020
#   other.crt .key         DNS:other.example
#   sni.crt .key           DNS:sni.example
#   client.crt .key        a client certificate from the CA
#   rogue.crt .key         a self-signed client certificate
#
# usage: mkcerts.sh DIR
set -eu

[ $# -eq 1 ] || { echo "usage: mkcerts.sh DIR" >&2; exit 2; }
dir=$1
[ -f "$dir/rogue.key" ] && exit 0
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.mkcerts.XXXXXX")
tmp=$(cd "$tmp" && pwd)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

ec() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1" 2>/dev/null
}

# A self-signed CA: $1 the file stem, $2 its name.
ca() {
	ec "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign \
	    -out "$1.crt" 2>/dev/null
}

# A leaf from the CA: $1 the stem (its key exists), $2 the CN, $3 the
# subjectAltName, $4 the extended key usage.
leaf() {
	openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" \
	    2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$3" "$4" \
	    >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key \
	    -CAcreateserial -days 3650 -extfile "$1.ext" -out "$1.crt" \
	    2>/dev/null
}

names="DNS:localhost,IP:127.0.0.1,IP:::1"
ca ca "weft test CA"
ca ca2 "weft other CA"
ec server.key
leaf server localhost "$names" serverAuth
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out server-rsa.key 2>/dev/null
leaf server-rsa localhost "$names" serverAuth
ec other.key
leaf other other.example DNS:other.example serverAuth
ec sni.key
leaf sni sni.example DNS:sni.example serverAuth
ec client.key
leaf client "weft test client" DNS:client.example clientAuth
ec rogue.key
openssl req -x509 -new -key rogue.key -subj "/CN=weft rogue client" \
    -days 3650 -out rogue.crt 2>/dev/null

# x509 -days cannot reach into the past; openssl ca takes any dates.
ec expired.key
openssl req -new -key expired.key -subj /CN=localhost -out expired.csr \
    2>/dev/null
: >index.txt
echo 01 >serial
cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = index.txt
serial = serial
new_certs_dir = .
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = ext
[any]
commonName = supplied
[ext]
subjectAltName = $names
extendedKeyUsage = serverAuth
CNF
openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key \
    -startdate 20200101000000Z -enddate 20200201000000Z \
    -in expired.csr -out expired.crt -notext 2>/dev/null

# rogue.key last: the set is complete once it is there.
mv ca2.crt ..
for f in ca server server-rsa expired other sni client rogue; do
	mv "$f.crt" "$f.key" ..
done
