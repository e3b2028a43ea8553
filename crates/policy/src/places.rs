//! Places a deployment can be tagged with and a policy can name: ISO 3166-1 alpha-2
//! countries, and groups of them (`EU`, `EEA`, `EFTA`, `APAC`, `UK` for `GB`). Each place is
//! the set of countries data sent there may end up in: a deployment tagged `EU` may be in any
//! member state, one tagged `UNKNOWN` or `GLOBAL` anywhere at all. `LOCAL` is the machine
//! the gateway runs on: data sent there does not leave it.
//!
//! Sets are 256-bit masks, so checking a deployment against a policy is a few AND operations.

/// Every officially assigned ISO 3166-1 alpha-2 code, in order; a code's index is its bit.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

const EU: &str = "AT BE BG HR HU CY CZ DK EE FI FR DE GR IE IT LV LT LU MT NL PL PT RO SK SI ES SE";
const EFTA: &str = "CH IS LI NO";
const EEA_EXTRA: &str = "IS LI NO";
/// The Asia-Pacific countries with cloud regions (Bedrock's `apac.` inference profiles).
const APAC: &str = "AU HK ID IN JP KR MY NZ SG TH TW";

/// A set of countries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Countries([u64; 4]);

impl Countries {
    pub const NONE: Countries = Countries([0; 4]);
    pub const ALL: Countries = Countries([u64::MAX; 4]);

    fn with(mut self, index: usize) -> Countries {
        self.0[index / 64] |= 1 << (index % 64);
        self
    }

    pub fn union(self, other: Countries) -> Countries {
        Countries([
            self.0[0] | other.0[0],
            self.0[1] | other.0[1],
            self.0[2] | other.0[2],
            self.0[3] | other.0[3],
        ])
    }

    /// Whether every country of `self` is in `other`.
    pub fn within(self, other: Countries) -> bool {
        (0..4).all(|i| self.0[i] & !other.0[i] == 0)
    }

    /// Whether `self` and `other` share a country.
    pub fn meets(self, other: Countries) -> bool {
        (0..4).any(|i| self.0[i] & other.0[i] != 0)
    }

    pub fn is_empty(self) -> bool {
        self == Countries::NONE
    }
}

/// Every ISO 3166-1 alpha-2 code known here.
pub fn all_codes() -> impl Iterator<Item = &'static str> {
    COUNTRIES.split(' ')
}

fn country(code: &str) -> Option<Countries> {
    COUNTRIES
        .split(' ')
        .position(|c| c == code)
        .map(|i| Countries::NONE.with(i))
}

fn group(codes: &str) -> Countries {
    codes
        .split(' ')
        .filter_map(country)
        .fold(Countries::NONE, Countries::union)
}

/// Where a deployment runs, as its tag says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    /// On the gateway's own machine (the embedded engine): data does not leave it.
    Local,
    /// Somewhere in these countries.
    In(Countries),
}

/// Reads a place: a country code, a group, `UK`, `GLOBAL` / `UNKNOWN` (anywhere), or
/// `LOCAL`. Upper case only, as written in configs and tags.
pub fn place(text: &str) -> Option<Place> {
    Some(match text {
        "LOCAL" => Place::Local,
        "GLOBAL" | "UNKNOWN" => Place::In(Countries::ALL),
        _ => Place::In(countries(text)?),
    })
}

/// The countries a name a policy may list stands for: a country, `EU`, `EEA`, `EFTA`,
/// `APAC`, or `UK` (`GB`). `None` for anything else.
pub fn countries(text: &str) -> Option<Countries> {
    match text {
        "EU" => Some(group(EU)),
        "EEA" => Some(group(EU).union(group(EEA_EXTRA))),
        "EFTA" => Some(group(EFTA)),
        "APAC" => Some(group(APAC)),
        "UK" => country("GB"),
        code if code.len() == 2 => country(code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_hold_their_members_and_tags_are_conservative() {
        assert_eq!(COUNTRIES.split(' ').count(), 249);
        assert!(COUNTRIES.split(' ').all(|c| c.len() == 2));
        let eu = countries("EU").unwrap();
        let de = countries("DE").unwrap();
        assert!(de.within(eu));
        assert!(
            !eu.within(de),
            "a deployment somewhere in the EU may not be in Germany"
        );
        assert!(eu.meets(de));
        assert!(eu.within(countries("EEA").unwrap()));
        assert!(countries("NO").unwrap().within(countries("EEA").unwrap()));
        assert!(!countries("CH").unwrap().within(countries("EEA").unwrap()));
        assert_eq!(countries("UK"), countries("GB"));
        assert!(countries("XX").is_none());
        assert!(countries("eu").is_none());
        assert_eq!(place("GLOBAL"), Some(Place::In(Countries::ALL)));
        assert!(
            !Countries::ALL.within(eu),
            "an unknown place is in no allow-list"
        );
        assert_eq!(place("LOCAL"), Some(Place::Local));
        // Every member of EU counted: 27 bits.
        let bits: u32 = eu.0.iter().map(|w| w.count_ones()).sum();
        assert_eq!(bits, 27);
    }
}
