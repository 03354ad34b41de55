// ESO's certificate and key functions (pkcs12*, pemToPkcs12*, fullPemToPkcs12*,
// pemTruststoreToPKCS12*, filterCertChain, certSANs, jwk*KeyPem, rsaDecrypt), written for
// keyward's reference renderer from ESO's documentation and the behaviour of its
// runtime/template/v2 package, on the same libraries ESO uses (go-pkcs12, lestrrat-go/jwx
// v2, crypto/x509). Where ESO would dereference a nil PEM block (and text/template turns
// the panic into an error), these return an error: the template fails either way.
package main

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwk"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

func esoCryptoFuncs() map[string]any {
	return map[string]any{
		"pkcs12key":                 func(in string) (string, error) { return pkcs12keyPass("", in) },
		"pkcs12keyPass":             pkcs12keyPass,
		"pkcs12cert":                func(in string) (string, error) { return pkcs12certPass("", in) },
		"pkcs12certPass":            pkcs12certPass,
		"pemToPkcs12":               func(cert, key string) (string, error) { return pemToPkcs12Pass(cert, key, "") },
		"pemToPkcs12Pass":           pemToPkcs12Pass,
		"fullPemToPkcs12":           func(cert, key string) (string, error) { return fullPemToPkcs12Pass(cert, key, "") },
		"fullPemToPkcs12Pass":       fullPemToPkcs12Pass,
		"pemTruststoreToPKCS12":     func(certs string) (string, error) { return pemTruststoreToPKCS12Pass(certs, "") },
		"pemTruststoreToPKCS12Pass": pemTruststoreToPKCS12Pass,
		"filterCertChain":           filterCertChain,
		"certSANs":                  certSANs,
		"jwkPublicKeyPem":           jwkPublicKeyPem,
		"jwkPrivateKeyPem":          jwkPrivateKeyPem,
		"rsaDecrypt":                rsaDecrypt,
	}
}

var errNoBlock = errors.New("no PEM block")

func pemString(kind string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
}

// pkcs12keyPass: the one key of a PKCS#12 file, re-marshalled as PKCS#8 "PRIVATE KEY".
func pkcs12keyPass(pass, input string) (string, error) {
	key, _, _, err := gopkcs12.DecodeChain([]byte(input), pass)
	if err != nil {
		return "", fmt.Errorf("unable to decode pkcs12 with password: %s", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return pemString("PRIVATE KEY", der), nil
}

// pkcs12certPass: the certificate bags as PEM, ordered leaf to root when one chain can be
// built, in bag order otherwise.
func pkcs12certPass(pass, input string) (string, error) {
	_, cert, cas, err := gopkcs12.DecodeChain([]byte(input), pass)
	if err != nil {
		return "", fmt.Errorf("unable to decode pkcs12 certificate with password: %s", err)
	}
	var all strings.Builder
	all.WriteString(pemString("CERTIFICATE", cert.Raw))
	for _, ca := range cas {
		all.WriteString(pemString("CERTIFICATE", ca.Raw))
	}
	chain, err := certChain([]byte(all.String()))
	if err != nil {
		return all.String(), nil
	}
	var ordered strings.Builder
	for _, c := range chain {
		ordered.WriteString(pemString("CERTIFICATE", c.Raw))
	}
	return ordered.String(), nil
}

func firstCert(text string) (*x509.Certificate, []byte, error) {
	block, rest := pem.Decode([]byte(text))
	if block == nil {
		return nil, nil, errNoBlock
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	return cert, rest, err
}

func pemToPkcs12Pass(cert, key, pass string) (string, error) {
	leaf, _, err := firstCert(cert)
	if err != nil {
		return "", err
	}
	return toPkcs12(leaf, key, nil, pass)
}

func fullPemToPkcs12Pass(cert, key, pass string) (string, error) {
	leaf, rest, err := firstCert(cert)
	if err != nil {
		return "", err
	}
	cas, err := allCerts(rest)
	if err != nil {
		return "", err
	}
	return toPkcs12(leaf, key, cas, pass)
}

// allCerts: every block must be a certificate, and no text may follow the last one.
func allCerts(data []byte) ([]*x509.Certificate, error) {
	certs := []*x509.Certificate{}
	for len(data) > 0 {
		block, rest := pem.Decode(data)
		if block == nil {
			return nil, errNoBlock
		}
		data = rest
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

func parseKey(der []byte) (any, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("unable to parse private key type")
}

func toPkcs12(leaf *x509.Certificate, key string, cas []*x509.Certificate, pass string) (string, error) {
	block, _ := pem.Decode([]byte(key))
	if block == nil {
		return "", errNoBlock
	}
	parsed, err := parseKey(block.Bytes)
	if err != nil {
		return "", err
	}
	pfx, err := gopkcs12.Modern.Encode(parsed, leaf, cas, pass)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

func pemTruststoreToPKCS12Pass(certs, pass string) (string, error) {
	cas, err := allCerts([]byte(certs))
	if err != nil {
		return "", err
	}
	pfx, err := gopkcs12.Modern.EncodeTrustStore(cas, pass)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

// certChain orders certificates leaf → intermediates → root by matching each one's
// authority key id with another's subject key id (no signature is checked).
func certChain(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		block, rest := pem.Decode(data)
		data = rest
		if block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
	}
	parent := make([]int, len(certs))
	isParent := make([]bool, len(certs))
	for i := range certs {
		parent[i] = -1
		for j := range certs {
			if i != j && bytes.Equal(certs[i].AuthorityKeyId, certs[j].SubjectKeyId) {
				isParent[j] = true
				parent[i] = j
				break
			}
		}
	}
	leaf := -1
	for i := range certs {
		if !isParent[i] {
			if leaf >= 0 {
				return nil, errors.New("found multiple leaf or disjunct certificates")
			}
			leaf = i
		}
	}
	if leaf < 0 {
		return nil, errors.New("no leaf certificate found")
	}
	var chain []*x509.Certificate
	for at := leaf; at >= 0; at = parent[at] {
		if len(chain) == len(certs) {
			return nil, errors.New("constructing chain resulted in cycle")
		}
		chain = append(chain, certs[at])
	}
	return chain, nil
}

func isRoot(c *x509.Certificate) bool {
	return c.AuthorityKeyId == nil || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId)
}

func filterCertChain(kind, input string) (string, error) {
	chain, err := certChain([]byte(input))
	if err != nil {
		return "", err
	}
	switch kind {
	case "leaf":
		c := chain[0]
		if c.AuthorityKeyId != nil && !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
			return pemString("CERTIFICATE", c.Raw), nil
		}
	case "intermediate":
		var out strings.Builder
		if len(chain) > 1 {
			for _, c := range chain[1:] {
				if isRoot(c) {
					break
				}
				out.WriteString(pemString("CERTIFICATE", c.Raw))
			}
		}
		return out.String(), nil
	case "root":
		if c := chain[len(chain)-1]; isRoot(c) {
			return pemString("CERTIFICATE", c.Raw), nil
		}
	}
	return "", nil
}

// certSANs: DNS names, IP addresses, e-mail addresses and URIs of the first PEM block's
// certificate, in that order (text before the first BEGIN line is dropped first).
func certSANs(input string) ([]string, error) {
	if i := strings.Index(input, "-----BEGIN"); i >= 0 {
		input = input[i:]
	}
	cert, _, err := firstCert(input)
	if err != nil {
		return nil, err
	}
	sans := append([]string{}, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, cert.EmailAddresses...)
	for _, u := range cert.URIs {
		sans = append(sans, u.String())
	}
	return sans, nil
}

func jwkRaw(text string) (any, error) {
	key, err := jwk.ParseKey([]byte(text))
	if err != nil {
		return nil, err
	}
	var raw any
	if err := key.Raw(&raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func jwkPublicKeyPem(text string) (string, error) {
	raw, err := jwkRaw(text)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(raw)
	if err != nil {
		return "", err
	}
	return pemString("PUBLIC KEY", der), nil
}

func jwkPrivateKeyPem(text string) (string, error) {
	raw, err := jwkRaw(text)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(raw)
	if err != nil {
		return "", err
	}
	return pemString("PRIVATE KEY", der), nil
}

func oaepHash(name string) hash.Hash {
	switch name {
	case "SHA1":
		return crypto.SHA1.New()
	case "SHA512":
		return sha512.New()
	default:
		return sha256.New()
	}
}

// rsaDecrypt SCHEME HASH CIPHERTEXT KEY: "None" passes the input through; "RSA-OAEP"
// decrypts with the PEM RSA key (an unknown hash name means SHA-256, no label).
func rsaDecrypt(scheme, hashName, in, key string) (string, error) {
	switch scheme {
	case "None":
		return in, nil
	case "RSA-OAEP":
		block, _ := pem.Decode([]byte(key))
		if block == nil {
			return "", errors.New("failed to decode PEM block")
		}
		parsed, err := parseKey(block.Bytes)
		if err != nil {
			return "", fmt.Errorf("could not parse private key: %v", err)
		}
		rsaKey, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return "", errors.New("could not parse RSA private key")
		}
		out, err := rsa.DecryptOAEP(oaepHash(hashName), nil, rsaKey, []byte(in), nil)
		if err != nil {
			return "", fmt.Errorf("error decrypting data with RSA: %v", err)
		}
		return string(out), nil
	default:
		return "", fmt.Errorf("decryption scheme %v is not supported", scheme)
	}
}

// decodeTrustStorePass is a test helper (see -test-helpers), not an ESO function.
func decodeTrustStorePass(pass, input string) (string, error) {
	certs, err := gopkcs12.DecodeTrustStore([]byte(input), pass)
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for _, c := range certs {
		out.WriteString(pemString("CERTIFICATE", c.Raw))
	}
	return out.String(), nil
}

// certInfo is a test helper: the deterministic parts of a generated certificate.
func certInfo(text string) (string, error) {
	c, _, err := firstCert(text)
	if err != nil {
		return "", err
	}
	days := c.NotAfter.Sub(c.NotBefore).Hours() / 24
	return fmt.Sprintf("v%d subject=%q issuer=%q ca=%v bc=%v maxpath=%d ku=%d eku=%v dns=%q ips=%v days=%.0f sig=%v pub=%v ski=%v aki=%v serialbits<=128:%v",
		c.Version, c.Subject.String(), c.Issuer.String(), c.IsCA, c.BasicConstraintsValid, c.MaxPathLen,
		c.KeyUsage, c.ExtKeyUsage, c.DNSNames, c.IPAddresses, days, c.SignatureAlgorithm,
		c.PublicKeyAlgorithm, len(c.SubjectKeyId) > 0, len(c.AuthorityKeyId) > 0, c.SerialNumber.BitLen() <= 128), nil
}

// checkSignedBy is a test helper: whether CERT's signature verifies with CA's key.
func checkSignedBy(cert, ca string) (string, error) {
	c, _, err := firstCert(cert)
	if err != nil {
		return "", err
	}
	p, _, err := firstCert(ca)
	if err != nil {
		return "", err
	}
	if err := c.CheckSignatureFrom(p); err != nil {
		return "", err
	}
	return "ok", nil
}

// checkKeyPair is a test helper: whether KEY is the private key of CERT.
func checkKeyPair(cert, key string) (string, error) {
	if _, err := tls.X509KeyPair([]byte(cert), []byte(key)); err != nil {
		return "", err
	}
	return "ok", nil
}
