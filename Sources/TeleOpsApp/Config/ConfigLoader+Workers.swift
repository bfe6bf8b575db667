import Foundation
import TeleOpsDispatch

extension ConfigLoader {
    /// Reads `dispatch.curve:`, CURVE encryption and authentication for workers (docs/curve.md):
    ///
    /// ```yaml
    /// dispatch:
    ///   endpoint: tcp://0.0.0.0:7311
    ///   curve:
    ///     secret_key_file: /etc/teleops/controller.key    # `teleops worker keygen --out …`; mode 0600
    ///     allowed_keys:                                   # workers' public keys; quote them (Z85 uses # : [ ] { })
    ///       - "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    ///     allowed_keys_file: /etc/teleops/workers.allowed  # one key per line, '#' comments
    /// ```
    ///
    /// The key files are read now, so a bad key or an unsafe file mode stops the start with the
    /// key's name and line. Without allowed keys only the controller's own local workers connect.
    static func readCurve(_ value: YAMLValue) throws(ConfigError) -> BrokerCurve {
        let fields = try value.fields(allowed: ["secret_key_file", "allowed_keys", "allowed_keys_file"])
        let secretFile = try fields.required("secret_key_file")
        let secretPath = try secretFile.string()
        let keyPair: CurveKeyPair
        do {
            keyPair = try CurveKeyFile.readSecretKey(at: secretPath)
        } catch {
            throw secretFile.error(error.message)
        }
        var allowed: [CurvePublicKey] = []
        if let list = fields["allowed_keys"] {
            for item in try list.list() {
                let text = try item.string()
                do throws(CurveError) {
                    allowed.append(try CurvePublicKey(z85: text, what: "a worker key"))
                } catch {
                    throw item.error(error.message + (text.count == 40 ? "" : "; quote keys in YAML, since Z85 uses # : [ ] { } and other YAML characters"))
                }
            }
        }
        if let file = fields["allowed_keys_file"] {
            let path = try file.string()
            do {
                allowed += try CurveKeyFile.readAllowlist(at: path)
            } catch {
                throw file.error(error.message)
            }
        }
        return BrokerCurve(keyPair: keyPair, allowedKeys: allowed)
    }

    /// A broker endpoint off loopback needs CURVE: the controller refuses to start without it.
    static func checkDispatchSecurity(_ fields: Fields, _ settings: DispatchSettings) throws(ConfigError) {
        guard settings.curve == nil, !DispatchEndpoint.isLocal(settings.endpoint) else { return }
        let message = DispatchEndpoint.curveRequiredMessage(for: settings.endpoint)
        throw (fields["endpoint"] ?? fields.owner).error(message)
    }
}
