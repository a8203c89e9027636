import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A throwaway certificate authority and a server certificate it signed for `127.0.0.1` and `localhost`, made fresh
/// for each emulator (P-256, valid from an hour ago for a day).
struct EmulatorCertificates {
    let caPEM: String
    let serverCertificateDER: [UInt8]
    let serverKeyPEM: String

    static func generate() throws -> EmulatorCertificates {
        let now = Date()
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName {
            OrganizationName("KubernetesEmulator")
            CommonName("kubernetes-emulator-ca-\(UUID().uuidString.prefix(8).lowercased())")
        }
        let caCertificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(caKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(86400),
            issuer: caName,
            subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(caKey.publicKey))
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey)
        )

        let serverKey = P256.Signing.PrivateKey()
        let serverName = try DistinguishedName { CommonName("kube-apiserver") }
        let serverCertificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(serverKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(86400),
            issuer: caName,
            subject: serverName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([
                    .dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                ])
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: Certificate.PublicKey(caKey.publicKey)).keyIdentifier)
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey)
        )

        var serializer = DER.Serializer()
        try serializer.serialize(serverCertificate)
        return EmulatorCertificates(
            caPEM: try caCertificate.serializeAsPEM().pemString + "\n",
            serverCertificateDER: serializer.serializedBytes,
            serverKeyPEM: serverKey.pemRepresentation
        )
    }

    func serverTLSConfiguration() throws -> TLSConfiguration {
        let certificate = try NIOSSLCertificate(bytes: serverCertificateDER, format: .der)
        let key = try NIOSSLPrivateKey(bytes: Array(serverKeyPEM.utf8), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(certificate)], privateKey: .privateKey(key)
        )
        configuration.applicationProtocols = ["http/1.1"]
        // Closing a connection waits this long for the peer's close_notify (default 5 s): keep stop() quick.
        configuration.shutdownTimeout = .milliseconds(200)
        return configuration
    }
}
