package builtin

import (
	"fmt"
	"strings"

	"github.com/ringside/ringside/internal/crm"
)

// DemoCallers are numbers `ringside simulate` calls from, written as a phone system
// would send them (not as the demo records store them): Jane Doe at ACME, the ACME
// switchboard, a number a contact and a lead share, callers from GB, US, FR and NL, one
// number no record has, and one withheld number.
var DemoCallers = []string{
	"+49309876543",  // Jane Doe, ACME GmbH (stored "+49 30 9876543")
	"+4930987650",   // ACME GmbH switchboard (stored "030 98765-0")
	"08945451200",   // a contact and a lead (stored "+49 89 4545 1200")
	"+442079460958", // Thameside Analytics (stored "+44 20 7946 0958")
	"+12125550147",  // Hudson Ridge Capital (stored "(212) 555-0147")
	"+33142685300",  // Atelier Lumière (stored "+33 1 42 68 53 00")
	"+31612345678",  // Grachtenhuis Vastgoed (stored "06-12345678")
	"+49 40 5550 9123",
	"anonymous",
}

// demoCountry is the material for one country's demo records.
type demoCountry struct {
	code      string
	first     []string
	last      []string
	accounts  []string
	leads     []string
	landlines []func(d digits) string
	mobiles   []func(d digits) string
}

// digits hands out distinct numbers for one country.
type digits int

// n returns w digits (no leading zero) unique to d and salt.
func (d digits) n(w int, salt int) string {
	lo := 2
	for range w - 1 {
		lo *= 10
	}
	span := lo/2*9 - lo // from 2·10^(w-1) up to 10^w - 1
	return fmt.Sprintf("%d", lo+(salt*104729+int(d)*7919)%span)
}

// three returns 3 digits unique to d (for the fictional 555/7946/496 ranges).
func (d digits) three() string { return fmt.Sprintf("%03d", 100+int(d)%800) }

func sp(s string, cuts ...int) string {
	var parts []string
	prev := 0
	for _, c := range cuts {
		parts = append(parts, s[prev:c])
		prev = c
	}
	return strings.Join(append(parts, s[prev:]), " ")
}

var demoCountries = []demoCountry{
	{
		code:     "DE",
		first:    []string{"Lukas", "Anna", "Jonas", "Lea", "Felix", "Marie", "Paul", "Sophie", "Tobias", "Katharina", "Stefan", "Julia"},
		last:     []string{"Becker", "Hoffmann", "Schäfer", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Zimmermann", "Braun", "Hartmann"},
		accounts: []string{"Nordlicht Logistik GmbH", "Havelberg Software AG", "Brandt & Söhne Maschinenbau GmbH", "Spreewald Feinkost KG", "Elbufer Immobilien GmbH", "Rheinblick Versicherungsmakler GmbH", "Alpenglühen Reisen GmbH", "Kranich Medizintechnik GmbH"},
		leads:    []string{"Weserstahl Handels GmbH", "Lindenhof Hotelbetriebe", "Bergmann Elektro", "Uckermark Solar eG", "Fichtel Druckerei", "Mosel Weinkontor", "Harzer Holzbau GmbH"},
		landlines: []func(digits) string{
			func(d digits) string { return "+49 30 " + sp(d.n(7, 1), 3) },
			func(d digits) string { s := d.n(7, 2); return "030/" + s[:3] + " " + s[3:5] + "-" + s[5:] },
			func(d digits) string { s := d.n(7, 3); return "0049 (0)89 " + s[:4] + "-" + s[4:] },
			func(d digits) string { return "(040) " + d.n(7, 4) },
			func(d digits) string { return "+49 (0)69 " + sp(d.n(7, 5), 3) },
			func(d digits) string { return "0221 " + sp(d.n(6, 6), 2, 4) },
			func(d digits) string { s := d.n(6, 7); return "0711-" + s[:4] + "-" + s[4:] },
		},
		mobiles: []func(digits) string{
			func(d digits) string { return "0171 " + d.n(7, 8) },
			func(d digits) string { return "+49 151 " + sp(d.n(8, 9), 4) },
			func(d digits) string { return "+49 (0) 160 " + d.n(7, 10) },
		},
	},
	{
		code:     "AT",
		first:    []string{"Florian", "Lena", "Matthias", "Hannah", "Christoph", "Johanna", "Dominik", "Verena", "Bernhard", "Theresa", "Markus", "Magdalena"},
		last:     []string{"Gruber", "Huber", "Bauer", "Wagner", "Pichler", "Steiner", "Moser", "Mayer", "Hofer", "Leitner", "Berger", "Fuchs"},
		accounts: []string{"Donauwelle Consulting GmbH", "Kaiserblick Hotels GmbH", "Tiroler Bergtechnik GmbH", "Wienerwald Bau GmbH", "Salzach Energie AG", "Grazer Feinmechanik GmbH", "Wachau Vinothek OG", "Arlberg Sportartikel GmbH"},
		leads:    []string{"Pinzgauer Käserei", "Linzer Textil KG", "Kärntner Seenbahn GmbH", "Vorarlberg Digital", "Mühlviertler Holz", "Burgenland Solar OG", "Innsbrucker Druckhaus"},
		landlines: []func(digits) string{
			func(d digits) string { return "+43 1 " + sp(d.n(7, 1), 3) },
			func(d digits) string { return "01 " + d.n(7, 2) },
			func(d digits) string { return "0043 662 " + d.n(6, 3) },
			func(d digits) string { s := d.n(6, 4); return "+43 (0)316 " + s[:3] + "-" + s[3:] },
			func(d digits) string { return "0512/" + d.n(6, 5) },
		},
		mobiles: []func(digits) string{
			func(d digits) string { return "+43 664 " + sp(d.n(7, 6), 3) },
			func(d digits) string { return "0676 " + d.n(7, 7) },
		},
	},
	{
		code:     "CH",
		first:    []string{"Luca", "Laura", "Noah", "Mia", "Reto", "Sabrina", "Urs", "Corinne", "Beat", "Nadine", "Adrian", "Seraina"},
		last:     []string{"Müller", "Meier", "Schmid", "Keller", "Weber", "Brunner", "Baumann", "Frei", "Zürcher", "Gerber", "Wyss", "Graf"},
		accounts: []string{"Limmat Treuhand AG", "Aareblick Informatik AG", "Säntis Präzisionsteile AG", "Genfersee Uhrenmanufaktur SA", "Rheinfall Logistik GmbH", "Jungfrau Tourismus AG", "Bärner Chocolatier AG", "Ticino Vini SA"},
		leads:    []string{"Engadin Bergbahnen", "Emmental Käse GmbH", "Luzerner Druck AG", "Glarner Solar", "Thurgau Obsthandel", "Basler Chemiehandel AG", "Zuger Fintech GmbH"},
		landlines: []func(digits) string{
			func(d digits) string { return "+41 44 " + sp(d.n(7, 1), 3, 5) },
			func(d digits) string { return "044 " + sp(d.n(7, 2), 3, 5) },
			func(d digits) string { return "0041 31 " + sp(d.n(7, 3), 3, 5) },
			func(d digits) string { return "+41 (0)61 " + sp(d.n(7, 4), 3, 5) },
			func(d digits) string { s := d.n(7, 5); return "022/" + s[:3] + "." + s[3:5] + "." + s[5:] },
		},
		mobiles: []func(digits) string{
			func(d digits) string { return "+41 79 " + sp(d.n(7, 6), 3, 5) },
			func(d digits) string { return "078 " + sp(d.n(7, 7), 3, 5) },
		},
	},
	{
		code:     "FR",
		first:    []string{"Camille", "Louis", "Chloé", "Hugo", "Manon", "Julien", "Léa", "Nicolas", "Inès", "Mathieu", "Élodie", "Antoine"},
		last:     []string{"Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre", "Girard", "Roux", "Fournier", "Mercier", "Blanc", "Chevalier"},
		accounts: []string{"Rhône Conseil SAS", "Boulangeries Dupré SA", "Côte d'Azur Nautique SARL", "Lyonnaise d'Imprimerie SAS", "Bretagne Marée SAS", "Vignobles Castel-Roux", "Paris Métrologie SA", "Garonne Aéro Services"},
		leads:    []string{"Provence Savonnerie", "Alsace Brasserie SARL", "Normandie Cidres", "Loire Vélo SAS", "Bordeaux Logistique", "Lille Textiles SA", "Savoie Outdoor"},
		landlines: []func(digits) string{
			func(d digits) string { return "+33 1 " + sp(d.n(8, 1), 2, 4, 6) },
			func(d digits) string { return "01 " + sp(d.n(8, 2), 2, 4, 6) },
			func(d digits) string { return "0033 4 " + sp(d.n(8, 3), 2, 4, 6) },
			func(d digits) string { return "+33 (0)5 " + sp(d.n(8, 4), 2, 4, 6) },
			func(d digits) string {
				s := d.n(8, 5)
				return "02." + s[:2] + "." + s[2:4] + "." + s[4:6] + "." + s[6:]
			},
		},
		mobiles: []func(digits) string{
			func(d digits) string { return "06 " + sp(d.n(8, 6), 2, 4, 6) },
			func(d digits) string { return "+33 7 " + d.n(8, 7) },
		},
	},
	{
		code:     "GB",
		first:    []string{"Oliver", "Amelia", "Harry", "Isla", "George", "Emily", "Jack", "Sophie", "Thomas", "Charlotte", "James", "Grace"},
		last:     []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "O'Connor", "Roberts", "Walker", "Wright", "Hughes"},
		accounts: []string{"Pennine Engineering Ltd", "Kingsbridge Property Partners LLP", "Mersey Freight Ltd", "Highgate Publishing Ltd", "Cotswold Furniture Co.", "Clyde Marine Services Ltd", "Brighton Digital Studio Ltd", "Severn Valley Foods Ltd"},
		leads:    []string{"Yorkshire Tea Rooms", "Kentish Orchards Ltd", "Oxford Lab Supplies", "Cornish Surf Co.", "Bristol Bikeworks", "Lakeland Outdoor Ltd", "Camden Coffee Roasters"},
		// Ofcom's ranges for drama: 020 7946 0xxx, 0161 496 0xxx, 0113 496 0xxx, 07700 900xxx
		// (libphonenumber reads the mobile range only with the country code).
		landlines: []func(digits) string{
			func(d digits) string { return "+44 20 7946 0" + d.three() },
			func(d digits) string { return "020 7946 0" + d.three() },
			func(d digits) string { return "+44 (0) 161 496 0" + d.three() },
			func(d digits) string { return "0113 496 0" + d.three() },
			func(d digits) string { return "+44 117 496 0" + d.three() },
		},
		mobiles: []func(digits) string{
			func(d digits) string { return "0044 7700 900" + d.three() },
			func(d digits) string { return "+44 7700 900" + d.three() },
		},
	},
	{
		code:     "US",
		first:    []string{"Michael", "Jennifer", "David", "Ashley", "Christopher", "Jessica", "Matthew", "Amanda", "Daniel", "Sarah", "Ryan", "Megan"},
		last:     []string{"Johnson", "Miller", "Davis", "Garcia", "Rodriguez", "Martinez", "Anderson", "Thompson", "White", "Harris", "Clark", "Lewis"},
		accounts: []string{"Bayside Robotics Inc.", "Lakeshore Medical Group", "Empire Row Realty", "Golden Gate Analytics Inc.", "Potomac Policy Advisors", "Windy City Foods Inc.", "Back Bay Biotech Inc.", "Lone Star Fleet Services"},
		leads:    []string{"Brooklyn Bagel Co.", "Mission Street Coffee", "Capitol Hill Printing", "Rocky Mountain Outfitters", "Harbor Point Marine", "Prairie Wind Energy", "Magnolia Home Goods"},
		// 555-0100 to 555-0199 are fictional in every area code.
		landlines: []func(digits) string{
			func(d digits) string { return "(212) 555-01" + d.three()[1:] },
			func(d digits) string { return "+1 415-555-01" + d.three()[1:] },
			func(d digits) string { return "646.555.01" + d.three()[1:] },
			func(d digits) string { return "+1 (312) 555 01" + d.three()[1:] },
			func(d digits) string { return "1-617-555-01" + d.three()[1:] },
		},
		mobiles: []func(digits) string{
			func(d digits) string { return "202-555-01" + d.three()[1:] },
			func(d digits) string { return "+1 713 555 01" + d.three()[1:] },
		},
	},
	{
		code:     "NL",
		first:    []string{"Daan", "Emma", "Sem", "Julia", "Bram", "Sanne", "Thijs", "Fleur", "Lars", "Anouk", "Ruben", "Lotte"},
		last:     []string{"de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos"},
		accounts: []string{"Polderkracht Energie B.V.", "Tulpenveld Kwekerij B.V.", "Maasbruggen Logistiek B.V.", "Dijkstra & Zonen Installatie", "Noordzee Visserij B.V.", "Utrechtse Softwarefabriek B.V.", "Haagse Advocatuur LLP", "Veluwe Recreatie B.V."},
		leads:    []string{"Fietsfabriek Zwolle", "Kaashandel Gouda", "Delfts Blauw Atelier", "Eindhoven Lichttechniek", "Groningse Brouwerij", "Zeeuwse Mosselhandel", "Leidse Boekhandel"},
		landlines: []func(digits) string{
			func(d digits) string { return "020-" + d.n(7, 1) },
			func(d digits) string { return "+31 20 " + sp(d.n(7, 2), 3) },
			func(d digits) string { return "0031 10 " + sp(d.n(7, 3), 3) },
			func(d digits) string { return "(030) " + d.n(7, 4) },
			func(d digits) string { return "+31 (0)70 " + sp(d.n(7, 5), 3, 5) },
		},
		mobiles: []func(digits) string{
			func(d digits) string { return "06-" + d.n(8, 6) },
			func(d digits) string { return "+31 6 " + sp(d.n(8, 7), 4) },
		},
	},
}

// slug turns a company name into an invented mail domain.
func slug(s string) string {
	r := strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "é", "e", "è", "e", "ê", "e", "à", "a",
		"ô", "o", "ç", "c", "ï", "i", "É", "e", "&", "", "'", "", ".", "")
	s = r.Replace(strings.ToLower(s))
	for _, suffix := range []string{" gmbh", " ag", " kg", " og", " sa", " sas", " sarl", " ltd", " llp", " inc", " co", " bv", " eg", " llc"} {
		s = strings.TrimSuffix(s, suffix)
	}
	return strings.Join(strings.Fields(s), "-") + ".example"
}

func mail(first, last, company string) string {
	local := strings.ToLower(first + "." + strings.ReplaceAll(strings.ReplaceAll(last, " ", ""), "'", ""))
	local = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "é", "e", "è", "e", "É", "e", "ç", "c").Replace(local)
	return local + "@" + slug(company)
}

// DemoRecords returns the demo directory: over 250 invented accounts, contacts and
// leads from DE, AT, CH, FR, GB, US and NL, with numbers written in the many ways people
// write them. The same records, IDs and numbers every time.
func DemoRecords() []crm.Record {
	recs := []crm.Record{
		// The captured Asterisk calls come from +49309876543 "ACME Reception".
		{Ref: crm.Ref{Entity: crm.Account, ID: "demo-acme"}, Name: "ACME GmbH", Country: "DE", Email: "info@acme-gmbh.example",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "030 98765-0"}}},
		{Ref: crm.Ref{Entity: crm.Contact, ID: "demo-jane-doe"}, FirstName: "Jane", LastName: "Doe", Name: "Jane Doe", Company: "ACME GmbH",
			AccountID: "demo-acme", Email: "jane.doe@acme-gmbh.example", Country: "DE",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "+49 30 9876543"}, {Field: crm.FieldMobile, Raw: "0172 5550143"}}},
		{Ref: crm.Ref{Entity: crm.Contact, ID: "demo-acme-keller"}, FirstName: "Thomas", LastName: "Keller", Name: "Thomas Keller", Company: "ACME GmbH",
			AccountID: "demo-acme", Email: "thomas.keller@acme-gmbh.example", Country: "DE",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "030 98765-21"}}},
		// A contact and a lead share a number: the pop shows both.
		{Ref: crm.Ref{Entity: crm.Account, ID: "demo-isartal"}, Name: "Isartal Consulting GmbH", Country: "DE",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "089 4545 1000"}}},
		{Ref: crm.Ref{Entity: crm.Contact, ID: "demo-isartal-weber"}, FirstName: "Markus", LastName: "Weber", Name: "Markus Weber",
			Company: "Isartal Consulting GmbH", AccountID: "demo-isartal", Email: "markus.weber@isartal-consulting.example", Country: "DE",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "+49 89 4545 1200"}}},
		{Ref: crm.Ref{Entity: crm.Lead, ID: "demo-isartal-krueger"}, FirstName: "Sabine", LastName: "Krüger", Name: "Sabine Krüger",
			Company: "Isartal Consulting GmbH", Email: "s.krueger@isartal-consulting.example", Country: "DE",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "+49 89 4545 1200"}}},
		// Numbers DemoCallers call from, each written as people write them.
		{Ref: crm.Ref{Entity: crm.Account, ID: "demo-thameside"}, Name: "Thameside Analytics Ltd", Country: "GB",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "+44 20 7946 0958"}}},
		{Ref: crm.Ref{Entity: crm.Account, ID: "demo-hudson"}, Name: "Hudson Ridge Capital LLC", Country: "US",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "(212) 555-0147"}}},
		{Ref: crm.Ref{Entity: crm.Account, ID: "demo-lumiere"}, Name: "Atelier Lumière SARL", Country: "FR",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "+33 1 42 68 53 00"}}},
		{Ref: crm.Ref{Entity: crm.Contact, ID: "demo-grachtenhuis-visser"}, FirstName: "Sanne", LastName: "Visser", Name: "Sanne Visser",
			Company: "Grachtenhuis Vastgoed B.V.", AccountID: "demo-grachtenhuis", Email: "sanne.visser@grachtenhuis-vastgoed.example", Country: "NL",
			Phones: []crm.Phone{{Field: crm.FieldMobile, Raw: "06-12345678"}}},
		{Ref: crm.Ref{Entity: crm.Account, ID: "demo-grachtenhuis"}, Name: "Grachtenhuis Vastgoed B.V.", Country: "NL",
			Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: "+31 20 624 1100"}}},
	}
	for _, c := range demoCountries {
		cc := strings.ToLower(c.code)
		var d digits
		next := func(styles []func(digits) string) string {
			d++
			return styles[int(d)%len(styles)](d)
		}
		person := 0
		for i, company := range c.accounts {
			accID := fmt.Sprintf("demo-%s-a%d", cc, i+1)
			recs = append(recs, crm.Record{Ref: crm.Ref{Entity: crm.Account, ID: accID}, Name: company, Country: c.code,
				Email: "info@" + slug(company), Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: next(c.landlines)}}})
			for j := range 2 + i%2 { // 2 or 3 contacts per account
				first, last := c.first[person%len(c.first)], c.last[(person*5+i)%len(c.last)]
				person++
				r := crm.Record{Ref: crm.Ref{Entity: crm.Contact, ID: fmt.Sprintf("demo-%s-c%d", cc, person)},
					FirstName: first, LastName: last, Name: first + " " + last, Company: company, AccountID: accID,
					Email: mail(first, last, company), Country: c.code,
					Phones: []crm.Phone{{Field: crm.FieldBusiness, Raw: next(c.landlines)}}}
				if (i+j)%2 == 0 {
					r.Phones = append(r.Phones, crm.Phone{Field: crm.FieldMobile, Raw: next(c.mobiles)})
				}
				if person%7 == 0 {
					r.Phones = append(r.Phones, crm.Phone{Field: crm.FieldHome, Raw: next(c.landlines)})
				}
				recs = append(recs, r)
			}
		}
		for i, company := range c.leads {
			first, last := c.first[(i*7+3)%len(c.first)], c.last[(i*3+2)%len(c.last)]
			r := crm.Record{Ref: crm.Ref{Entity: crm.Lead, ID: fmt.Sprintf("demo-%s-l%d", cc, i+1)},
				FirstName: first, LastName: last, Name: first + " " + last, Company: company,
				Email: mail(first, last, company), Country: c.code}
			if i%3 == 2 {
				r.Phones = []crm.Phone{{Field: crm.FieldMobile, Raw: next(c.mobiles)}}
			} else {
				r.Phones = []crm.Phone{{Field: crm.FieldBusiness, Raw: next(c.landlines)}}
			}
			if i%4 == 1 {
				r.Phones = append(r.Phones, crm.Phone{Field: crm.FieldOther, Raw: next(c.mobiles)})
			}
			recs = append(recs, r)
		}
	}
	return recs
}
